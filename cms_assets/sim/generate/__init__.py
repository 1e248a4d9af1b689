"""Synthetic DE-SynPUF samples: the 8 zips of a CMS sample, in CMS's exact names and CSV format, with realistic,
internally consistent content, at any scale (1.0 = the size of CMS's Sample 1: 11.5 million rows).

Format. Each zip holds one CSV (member name from :func:`names.member_name`, so " - Copy.csv" where CMS has it):
a header of double-quoted column names, then unquoted comma-separated values, YYYYMMDD dates, money with two
decimals ("3620.00", "-10.00"), an empty field for a missing value, LF line ends (as every public copy; readers
accept CRLF too). The real files' details are all written: codes zero-padded as text (SP_STATE_CODE "03",
BENE_COUNTY_CD "090" / "000", PLAN_CVRG_MOS_NUM "00"; NPIs "0611998537", DRG "057", ICD-9 "0389", NDC
"00058251515"), "0.00" in the unused line slots of carrier amount blocks (code blocks empty), QTY_DSPNSD_NUM with
three decimals ("120.000"), the statutory Part A deductibles (1024.00 / 1068.00 / 1100.00, sometimes empty) and
daily coinsurance (so BENRES_IP holds values such as 3204.00), carrier rows repeating a (DESYNPUF_ID, CLM_ID) pair
at CMS's rate (about 480 in Sample 1's file A). With ``quirks`` and ``deflate64``, Sample 11's carrier A zip is
Deflate64-compressed (zip method 9), as zips from Windows' compressor or 7-Zip are.

Generating model (all per sample, deterministic for (seed, sample, scale)):

1. Beneficiaries (:mod:`.population`): sex, race and SSA state drawn from CMS's marginals (states weighted by
   Medicare enrolment; 40 and 48 never occur); ages 65-100 plus 16% younger (disability/ESRD); birth and death
   dates on the 1st of a month. IDs are a bijection of (sample, index), so samples never share a DESYNPUF_ID.
2. Latent health: a log-frailty h ~ N(0, 1) raised by age and disability, following an AR(1) process across years
   (h' = 0.75 h + sqrt(1 - 0.75^2) e). Chronic conditions are thresholds on h + a persistent personal liability +
   a shared cardio-metabolic factor + age/sex terms + yearly noise; thresholds are the empirical quantiles that give
   CMS's prevalence per condition and year exactly. ESRD likewise (tied to kidney disease and disability).
3. Deaths: about 1.5% of each year's beneficiaries, chosen with weight exp(h + 0.07 (age - 75)); the dead keep their
   death year's row (with BENE_DEATH_DT) and are absent later; a few others leave so counts match CMS's per year.
4. Claims per beneficiary-year: each file's row count per year (Sample 1's count times scale, split over years as
   CMS's full file is) is allocated by a multinomial over intensities exp(sigma_kind h) * 1.12^conditions *
   a persistent Gamma propensity per beneficiary and kind * yearly Gamma(4) noise * exposure (share of the year
   alive; Part D months for PDE), capped at a multiple of the mean so annual amounts keep CMS-like tails. So
   claims concentrate on the frail, the share of beneficiaries with any claim is close to CMS's, and next year's
   cost is predictable from this year's conditions, counts and costs only in part (a linear model on simple
   features reaches R2 ~0.2 on a random holdout of 2008 -> 2009). CMS's 2010 files hold 55-65% of 2009's claims,
   so every model trained on 2008 -> 2009 over-predicts 2009 -> 2010 costs; that level shift is CMS's, not noise.
5. Claims (:mod:`.claims`): dates inside the year and before death (CLM_THRU_DT / SRVC_DT decide the year),
   diagnoses drawn mostly from the beneficiary's conditions (ICD-9 without the dot), providers from the
   beneficiary's state, physicians from a shared NPI pool, NDCs from a shared pool with a cost per drug.
   Amounts are log-normal, scaled so that beneficiary-level means match CMS's, and rounded to multiples of 10,
   except the statutory Part A deductible and coinsurance amounts.
6. Beneficiary annual amounts are exact sums of that year's claims (every amount is whole dollars, so no rounding
   is needed; a repeated carrier row counts once): MEDREIMB_IP = sum of inpatient CLM_PMT_AMT;
   BENRES_IP = sum of NCH_BENE_IP_DDCTBL_AMT +
   NCH_BENE_PTA_COINSRNC_LBLTY_AM + NCH_BENE_BLOOD_DDCTBL_LBLTY_AM; PPPYMT_IP = sum of NCH_PRMRY_PYR_CLM_PD_AMT;
   MEDREIMB_OP / BENRES_OP / PPPYMT_OP the same over outpatient CLM_PMT_AMT / NCH_BENE_PTB_DDCTBL_AMT +
   NCH_BENE_PTB_COINSRNC_AMT + NCH_BENE_BLOOD_DDCTBL_LBLTY_AM / NCH_PRMRY_PYR_CLM_PD_AMT; MEDREIMB_CAR = sum of
   LINE_NCH_PMT_AMT_1..13, BENRES_CAR = sum of LINE_BENE_PTB_DDCTBL_AMT_* + LINE_COINSRNC_AMT_*, PPPYMT_CAR = sum of
   LINE_BENE_PRMRY_PYR_PD_AMT_*, over claims whose CLM_THRU_DT falls in the year. A few inpatient/outpatient claims
   have a SEGMENT 2 row (same CLM_ID, empty dates, payments 0.00), which belongs to no year and adds nothing.

Streaming: the population (one row per beneficiary) is built in memory; claims are generated in chunks of
beneficiaries and appended to all 8 zips at once, so memory is bounded by the chunk size, not the scale.
Carrier claims of the first half of beneficiaries go to the A file, the rest to B.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from cms_assets.lib.synpuf import names
from cms_assets.lib.synpuf.tables import Kind
from cms_assets.sim.generate.claims import GENERATORS, Chunk, ClaimIds
from cms_assets.sim.generate.population import YEARS, build_population, summary_table
from cms_assets.sim.generate.writer import CsvZipWriter

__all__ = ["generate", "generate_sample", "CHUNK_BENEFICIARIES"]

#: Beneficiaries per chunk: about 80,000 carrier rows, a few hundred MB at most.
CHUNK_BENEFICIARIES = 2_000


def _chunks(n: int) -> list[tuple[int, int]]:
    """Chunk bounds; n // 2 is always a bound so each chunk's carrier rows go to one file (A or B)."""
    half = n // 2
    bounds = sorted({*range(0, half, CHUNK_BENEFICIARIES), *range(half, n, CHUNK_BENEFICIARIES), n})
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def generate_sample(
    out_dir: Path, sample: int, scale: float = 0.01, seed: int = 0, quirks: bool = True, deflate64: bool = True
) -> list[Path]:
    """Write the 8 zips of ``sample`` flat into ``out_dir``; returns their paths in :func:`names.files_for_sample`
    order. ``scale`` 1.0 is the size of CMS's Sample 1. Same (seed, sample, scale) -> same bytes.
    ``deflate64`` (with ``quirks``): Deflate64 for the files in ``names.DEFLATE64_FILES`` (Sample 11's carrier A)."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    specs = names.files_for_sample(sample)  # validates the sample number
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pop = build_population(sample, scale, seed)
    ends = np.stack([pop.claim_end(y) for y in range(3)])
    ids = ClaimIds(sample, seed)
    half = len(pop) // 2
    with ExitStack() as stack:
        writers = {
            spec: stack.enter_context(
                CsvZipWriter(
                    out_dir / spec.zip_name,
                    names.member_name(spec, quirks),
                    spec.table.csv_columns,
                    deflate64=quirks and deflate64 and spec in names.DEFLATE64_FILES,
                )
            )
            for spec in specs
        }
        by_key = {(spec.kind, spec.year or spec.part): w for spec, w in writers.items()}
        for i, (lo, hi) in enumerate(_chunks(len(pop))):
            chunk = Chunk(pop, lo, hi, np.random.default_rng([seed, sample, 2, i]), ends, ids)
            sums: dict[str, np.ndarray] = {}
            for kind, make in GENERATORS.items():
                claims = make(chunk)
                sums |= claims.sums
                part = ("A" if hi <= half else "B") if kind is Kind.CARRIER else None
                by_key[(kind, part)].write(claims.table)
            for y, year in enumerate(YEARS):
                by_key[(Kind.BENEFICIARY, year)].write(summary_table(pop, lo, hi, y, sums))
    return [out_dir / spec.zip_name for spec in specs]


def generate(
    out_dir: Path,
    samples: Iterable[int],
    scale: float = 0.01,
    seed: int = 0,
    quirks: bool = True,
    deflate64: bool = True,
) -> dict[int, list[Path]]:
    """Generate several samples into one flat directory (their file names never clash)."""
    return {s: generate_sample(out_dir, s, scale, seed, quirks, deflate64) for s in samples}
