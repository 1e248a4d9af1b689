"""The generator writes every real-file detail of the published CMS files (../shared/SYNPUF.md, "Real-file details").

Each expectation below is written from that page (the CMS Codebook and public copies of the files), not from the
generator's constants: a change to the generator that drifts from the real files fails here. Files are read back as
raw text (every column a string), as a downloader sees them.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from cms_assets.lib.synpuf import columns as c
from cms_assets.lib.synpuf import names
from cms_assets.lib.synpuf.names import FileSpec
from cms_assets.lib.synpuf.tables import Kind
from cms_assets.sim.generate import generate_sample
from cms_assets_tests.lib.test_generate import Sample

SCALE = 0.05  # about 5,800 beneficiaries and 237,000 carrier rows
#: SYNPUF.md: about 480 repeated (DESYNPUF_ID, CLM_ID) pairs in Sample 1's carrier file A, of 2,370,667 rows.
REAL_REPEAT_RATE = 480 / 2_370_667
#: SYNPUF.md: NCH_BENE_IP_DDCTBL_AMT is the year's statutory amount, sometimes empty.
PART_A_DEDUCTIBLE = {"2008": "1024.00", "2009": "1068.00", "2010": "1100.00"}
AMOUNT_BLOCKS = ("LINE_NCH_PMT_AMT_", "LINE_BENE_PTB_DDCTBL_AMT_", "LINE_BENE_PRMRY_PYR_PD_AMT_", "LINE_COINSRNC_AMT_")
AMOUNT_BLOCKS += ("LINE_ALOWD_CHRG_AMT_",)
CODE_BLOCKS = ("PRF_PHYSN_NPI_", "TAX_NUM_", "HCPCS_CD_", "LINE_PRCSG_IND_CD_", "LINE_ICD9_DGNS_CD_")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    out = tmp_path_factory.mktemp("real-details")
    generate_sample(out, 1, scale=SCALE, seed=0)
    return Sample(out, 1)


def _cells(df: pd.DataFrame, prefix: str) -> pd.Series:
    return df[[f"{prefix}{i}" for i in range(1, c.CARRIER_LINES + 1)]].stack().dropna()


def test_beneficiary_codes_keep_their_padding(files: Sample) -> None:
    for df in files.bene.values():
        assert df.SP_STATE_CODE.str.fullmatch(r"\d{2}").all()  # "03"
        assert df.BENE_COUNTY_CD.str.fullmatch(r"\d{3}").all()  # "090" / "000"
        assert df.PLAN_CVRG_MOS_NUM.str.fullmatch(r"0\d|1[0-2]").all()  # "00" / "06"
        for col in ("BENE_HI_CVRAGE_TOT_MONS", "BENE_SMI_CVRAGE_TOT_MONS", "BENE_HMO_CVRAGE_TOT_MONS"):
            assert df[col].str.fullmatch(r"0|[1-9]|1[0-2]").all(), col  # written unpadded: "12", "0"
    b = files.bene[2008]
    assert (b.SP_STATE_CODE.str[0] == "0").any() and (b.BENE_COUNTY_CD == "000").any()
    assert (b.BENE_COUNTY_CD.str.match(r"0[1-9]")).any()  # "090"-like codes, whose zero a number would lose
    assert {"00", "12"} <= set(b.PLAN_CVRG_MOS_NUM) and b.PLAN_CVRG_MOS_NUM.str.match(r"0[1-9]").any()


def test_claim_codes_keep_their_leading_zeros(files: Sample) -> None:
    npis = pd.concat([files.ip.AT_PHYSN_NPI.dropna(), _cells(files.car, "PRF_PHYSN_NPI_")])
    assert npis.str.fullmatch(r"\d{10}").all() and npis.str.startswith("0").any()  # "0611998537"
    drg = files.ip.CLM_DRG_CD.dropna()
    assert drg.str.len().eq(3).all() and drg.str.fullmatch(r"0[1-9]\d").any()  # "057"
    dx = pd.concat([files.ip.ICD9_DGNS_CD_1.dropna(), _cells(files.car, "LINE_ICD9_DGNS_CD_")])
    assert dx.str.fullmatch(r"0\d{3,4}").any()  # "0389"
    ndc = files.pde.PROD_SRVC_ID
    assert ndc.str.fullmatch(r"\d{11}").all() and ndc.str.startswith("00").any()  # "00058251515"


def test_quantities_have_three_decimals(files: Sample) -> None:
    qty = files.pde.QTY_DSPNSD_NUM
    assert qty.str.fullmatch(r"\d+\.\d{3}").all()
    assert {"0.000", "30.000"} <= set(qty)


def test_unused_carrier_slots_are_zero_amounts_and_empty_codes(files: Sample) -> None:
    car = files.car
    for i in range(1, c.CARRIER_LINES + 1):
        unused = car[f"HCPCS_CD_{i}"].isna()
        for prefix in AMOUNT_BLOCKS:
            assert car[f"{prefix}{i}"].notna().all(), f"{prefix}{i}: an amount slot is empty"
            assert (car.loc[unused, f"{prefix}{i}"] == "0.00").all(), f"{prefix}{i}"
        for prefix in CODE_BLOCKS:
            assert car.loc[unused, f"{prefix}{i}"].isna().all(), f"{prefix}{i}"
    assert car.HCPCS_CD_13.isna().mean() > 0.9  # most claims have few lines, so "0.00" slots abound


def test_part_a_deductibles_are_the_statutory_amounts(files: Sample) -> None:
    ip = files.ip[files.ip.SEGMENT == "1"]
    ded = ip.NCH_BENE_IP_DDCTBL_AMT
    assert ded.isna().any()  # "sometimes empty"
    year = ip.CLM_THRU_DT.str[:4]
    charged = ded.notna() & (ded != "0.00")
    assert charged.mean() > 0.5
    assert (ded[charged] == year[charged].map(PART_A_DEDUCTIBLE)).all()


def test_benres_holds_amounts_that_are_not_multiples_of_ten(files: Sample) -> None:
    values = pd.concat([df.BENRES_IP for df in files.bene.values()])
    assert values.str.fullmatch(r"\d+\.00").all()
    assert (~values.str.fullmatch(r"\d*0\.00")).mean() > 0.01  # 1024.00, 2048.00, 3204.00 ...
    coins = files.ip.NCH_BENE_PTA_COINSRNC_LBLTY_AM.dropna()
    assert (~coins.str.fullmatch(r"\d*0\.00")).any()


def test_carrier_repeats_pairs_at_the_real_rate(files: Sample) -> None:
    car = files.car
    repeats = car.duplicated(["DESYNPUF_ID", "CLM_ID"]).sum()
    expected = REAL_REPEAT_RATE * len(car)  # ~48 at this scale; Poisson sd ~7
    assert 0.55 * expected <= repeats <= 1.6 * expected, (repeats, expected)


def test_sample11_carrier_a_is_deflate64_and_switchable(tmp_path: Path) -> None:
    """Zips from Windows' compressor or 7-Zip use Deflate64 (method 9) for large files (SYNPUF.md, Sample 11)."""
    spec = FileSpec(Kind.CARRIER, 11, part="A")
    paths = dict(zip(names.files_for_sample(11), generate_sample(tmp_path / "on", 11, scale=0.001), strict=True))
    methods = {s: zipfile.ZipFile(p).infolist()[0].compress_type for s, p in paths.items()}
    assert methods.pop(spec) == 9 and set(methods.values()) == {zipfile.ZIP_DEFLATED}
    off = generate_sample(tmp_path / "off", 11, scale=0.001, deflate64=False)[5]
    assert zipfile.ZipFile(off).infolist()[0].compress_type == zipfile.ZIP_DEFLATED
    if shutil.which("unzip") is None:
        pytest.skip("Info-ZIP unzip (an independent Deflate64 decoder) is not installed")
    # An independent decoder (Info-ZIP, built with Deflate64) reads our zip to the same bytes as the deflate twin.
    inflated = subprocess.run(["unzip", "-p", str(paths[spec])], capture_output=True, check=True).stdout
    with zipfile.ZipFile(off) as zf:
        assert inflated == zf.read(zf.infolist()[0])
