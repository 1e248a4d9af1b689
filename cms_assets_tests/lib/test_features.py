"""Feature values on a hand-built sample: three beneficiaries, every claim type, 2008-2010, computed by the one
feature query on both engines (Spark SQL and DuckDB), and the two engines equal row for row on a generated sample.

A (born 1940-03-01) is present all three years; B (born 1930-01-01) dies in 2009 and is absent from the 2010
file; C (born 1950-12-01) has no claims and is absent from the 2009 file. Each expected value is worked out by
hand next to it.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cms_assets.lib import features_duckdb, layout
from cms_assets.lib.ml.schemas import FEATURE_SCHEMA
from cms_assets.lib.spark.features import build_features, read_tables, write_features
from cms_assets.lib.synpuf.tables import TABLE_NAMES
from cms_assets_tests.fixtures.spark import write_tables

A, B, C = "00000000000000AA", "00000000000000BB", "00000000000000CC"
NO = {
    f"SP_{c}": 2 for c in "ALZHDMTA CHF CHRNKIDN CNCR COPD DEPRESSN DIABETES ISCHMCHT OSTEOPRS RA_OA STRKETIA".split()
}


def bene(pid: str, year: int, birth: str, **extra: object) -> dict:
    base = {
        "DESYNPUF_ID": pid, "YEAR": year, "BENE_BIRTH_DT": birth, "BENE_SEX_IDENT_CD": 1, "BENE_RACE_CD": 1,
        "BENE_ESRD_IND": "0", "SP_STATE_CODE": "05", "BENE_COUNTY_CD": "200", "BENE_HI_CVRAGE_TOT_MONS": 12,
        "BENE_SMI_CVRAGE_TOT_MONS": 12, "BENE_HMO_CVRAGE_TOT_MONS": 0, "PLAN_CVRG_MOS_NUM": "12", **NO,
    }  # fmt: skip
    return {**base, **extra}


ROWS = {
    "beneficiary_summary": [
        bene(A, 2008, "1940-03-01", SP_CHF=1, SP_DIABETES=1),
        bene(A, 2009, "1940-03-01", BENE_ESRD_IND="Y", SP_CHF=1),
        bene(A, 2010, "1940-03-01", BENE_HI_CVRAGE_TOT_MONS=6),
        bene(B, 2008, "1930-01-01", BENE_SEX_IDENT_CD=2, BENE_RACE_CD=2, SP_STATE_CODE="54"),
        bene(
            B, 2009, "1930-01-01", BENE_SEX_IDENT_CD=2, BENE_RACE_CD=2, SP_STATE_CODE="54", BENE_DEATH_DT="2009-06-01"
        ),
        bene(C, 2008, "1950-12-01", BENE_RACE_CD=5),
        bene(C, 2010, "1950-12-01", BENE_RACE_CD=5),
    ],
    "inpatient_claims": [
        # Claim 100, two segments; the second has empty dates and still belongs to 2008.
        {"DESYNPUF_ID": A, "CLM_ID": "100", "SEGMENT": 1, "CLM_FROM_DT": "2008-03-01", "CLM_THRU_DT": "2008-03-05",
         "CLM_ADMSN_DT": "2008-03-01", "CLM_PMT_AMT": 5000, "CLM_UTLZTN_DAY_CNT": 4, "PRVDR_NUM": "0506GC",
         "ICD9_DGNS_CD_1": "4280", "ICD9_DGNS_CD_2": "25000", "ADMTNG_ICD9_DGNS_CD": "78650"},
        {"DESYNPUF_ID": A, "CLM_ID": "100", "SEGMENT": 2, "CLM_PMT_AMT": 1000, "ICD9_DGNS_CD_1": "V5861"},
        {"DESYNPUF_ID": A, "CLM_ID": "101", "SEGMENT": 1, "CLM_FROM_DT": "2008-12-28", "CLM_THRU_DT": "2008-12-31",
         "CLM_ADMSN_DT": "2008-12-28", "CLM_PMT_AMT": 2000, "CLM_UTLZTN_DAY_CNT": 3, "PRVDR_NUM": "0506GC",
         "ICD9_DGNS_CD_1": "4280"},
        # Interim claim of the same stay, ending in 2009.
        {"DESYNPUF_ID": A, "CLM_ID": "102", "SEGMENT": 1, "CLM_FROM_DT": "2009-01-01", "CLM_THRU_DT": "2009-01-03",
         "CLM_ADMSN_DT": "2008-12-28", "CLM_PMT_AMT": 500, "CLM_UTLZTN_DAY_CNT": 2, "PRVDR_NUM": "1234AB",
         "ICD9_DGNS_CD_1": "486"},
    ],
    "outpatient_claims": [
        {"DESYNPUF_ID": A, "CLM_ID": "200", "SEGMENT": 1, "CLM_THRU_DT": "2008-05-10", "CLM_PMT_AMT": 100,
         "PRVDR_NUM": "0506GC", "ICD9_DGNS_CD_1": "V700", "ICD9_DGNS_CD_2": "E8889", "ICD9_DGNS_CD_3": "OTHER"},
        {"DESYNPUF_ID": B, "CLM_ID": "201", "SEGMENT": 1, "CLM_THRU_DT": "2009-02-01", "CLM_PMT_AMT": -10,
         "PRVDR_NUM": "7777XY", "ICD9_DGNS_CD_1": "4019"},
    ],
    "carrier_claims": [
        {"DESYNPUF_ID": A, "CLM_ID": "300", "CLM_THRU_DT": "2008-07-01", "ICD9_DGNS_CD_1": "4019",
         "LINE_ICD9_DGNS_CD_1": "4019", "LINE_ICD9_DGNS_CD_2": "7140", "LINE_NCH_PMT_AMT_1": 50,
         "LINE_NCH_PMT_AMT_2": 30, "LINE_NCH_PMT_AMT_13": 20, "PRF_PHYSN_NPI_1": "1111111111",
         "PRF_PHYSN_NPI_2": "1111111111", "PRF_PHYSN_NPI_3": "2222222222"},
        {"DESYNPUF_ID": B, "CLM_ID": "301", "CLM_THRU_DT": "2008-08-15", "ICD9_DGNS_CD_1": "2900",
         "LINE_NCH_PMT_AMT_1": 70, "PRF_PHYSN_NPI_1": "3333333333"},
        # CMS's carrier files repeat (DESYNPUF_ID, CLM_ID) pairs; a claim counts once. An exact repeat of 300 ...
        {"DESYNPUF_ID": A, "CLM_ID": "300", "CLM_THRU_DT": "2008-07-01", "ICD9_DGNS_CD_1": "4019",
         "LINE_ICD9_DGNS_CD_1": "4019", "LINE_ICD9_DGNS_CD_2": "7140", "LINE_NCH_PMT_AMT_1": 50,
         "LINE_NCH_PMT_AMT_2": 30, "LINE_NCH_PMT_AMT_13": 20, "PRF_PHYSN_NPI_1": "1111111111",
         "PRF_PHYSN_NPI_2": "1111111111", "PRF_PHYSN_NPI_3": "2222222222"},
        # ... and a differing repeat of 301: the row with the larger line payment total (70 > 20) is the claim.
        {"DESYNPUF_ID": B, "CLM_ID": "301", "CLM_THRU_DT": "2008-08-15", "ICD9_DGNS_CD_1": "4019",
         "LINE_NCH_PMT_AMT_1": 20, "PRF_PHYSN_NPI_1": "4444444444"},
        {"DESYNPUF_ID": A, "CLM_ID": "302", "CLM_THRU_DT": "2010-02-02", "ICD9_DGNS_CD_1": "1629",
         "LINE_NCH_PMT_AMT_1": 40},
    ],
    "prescription_drug_events": [
        {"DESYNPUF_ID": A, "PDE_ID": "400", "SRVC_DT": "2008-01-15", "TOT_RX_CST_AMT": 30, "DAYS_SUPLY_NUM": 30},
        {"DESYNPUF_ID": A, "PDE_ID": "401", "SRVC_DT": "2008-02-15", "TOT_RX_CST_AMT": 30, "DAYS_SUPLY_NUM": 30},
        {"DESYNPUF_ID": A, "PDE_ID": "402", "SRVC_DT": "2009-03-01", "TOT_RX_CST_AMT": 60, "DAYS_SUPLY_NUM": 90},
        {"DESYNPUF_ID": B, "PDE_ID": "403", "SRVC_DT": "2009-04-01", "TOT_RX_CST_AMT": 10, "DAYS_SUPLY_NUM": 0},
    ],
}  # fmt: skip

ZERO = {
    "IP_PAYMENT": 0.0, "OP_PAYMENT": 0.0, "CAR_PAYMENT": 0.0, "PDE_COST": 0.0, "TOTAL_PAYMENT": 0.0,
    "IP_CLAIMS": 0, "OP_CLAIMS": 0, "CAR_CLAIMS": 0, "IP_STAYS": 0, "IP_DAYS": 0, "DISTINCT_DIAGNOSES": 0,
    "DX_NEOPLASM": 0, "DX_ENDOCRINE": 0, "DX_MENTAL": 0, "DX_NERVOUS": 0, "DX_CIRCULATORY": 0, "DX_RESPIRATORY": 0,
    "DX_GENITOURINARY": 0, "DX_MUSCULOSKELETAL": 0, "DX_INJURY": 0, "DX_SUPPLEMENTARY": 0,
    "DISTINCT_PROVIDERS": 0, "PDE_FILLS": 0, "PDE_DAYS_SUPPLY": 0,
}  # fmt: skip

EXPECTED = {
    (A, 2008): {
        **ZERO,
        "AGE": 2008 - 1940 - 1,  # birthday in March: still 67 on 1 January
        "SEX": 1, "RACE": 1, "STATE": 5, "ESRD": 0, "CC_CHF": 1, "CC_DIABETES": 1, "CC_COUNT": 2, "DIED_IN_YEAR": 0,
        "HI_MONTHS": 12, "PLAN_MONTHS": 12,
        "IP_PAYMENT": 5000 + 1000 + 2000.0,  # claim 100 (both segments) + claim 101
        "OP_PAYMENT": 100.0,
        "CAR_PAYMENT": 50 + 30 + 20.0,  # lines 1, 2 and 13 of claim 300 (its repeat not counted)
        "PDE_COST": 30 + 30.0,
        "TOTAL_PAYMENT": 8000 + 100 + 100 + 60.0,
        "IP_CLAIMS": 2, "OP_CLAIMS": 1, "CAR_CLAIMS": 1,
        "IP_STAYS": 2,  # admissions 2008-03-01 and 2008-12-28
        "IP_DAYS": 4 + 3,
        # 4280 25000 V5861 (IP) V700 E8889 (OP; OTHER is no code) 4019 7140 (carrier, 4019 twice); admitting 78650 out
        "DISTINCT_DIAGNOSES": 7,
        "DX_CIRCULATORY": 2, "DX_ENDOCRINE": 1, "DX_SUPPLEMENTARY": 2, "DX_MUSCULOSKELETAL": 1,
        "DISTINCT_PROVIDERS": 3,  # 0506GC (IP and OP), NPIs 1111111111 and 2222222222
        "PDE_FILLS": 2, "PDE_DAYS_SUPPLY": 30 + 30,
        "NEXT_YEAR_COST": 500 + 60.0,  # A's 2009 total
    },
    (A, 2009): {
        **ZERO,
        "AGE": 68, "SEX": 1, "RACE": 1, "STATE": 5, "ESRD": 1, "CC_CHF": 1, "CC_COUNT": 1, "DIED_IN_YEAR": 0,
        "HI_MONTHS": 12, "PLAN_MONTHS": 12,
        "IP_PAYMENT": 500.0, "PDE_COST": 60.0, "TOTAL_PAYMENT": 560.0,
        "IP_CLAIMS": 1, "IP_STAYS": 1, "IP_DAYS": 2,  # interim claim 102, admitted 2008-12-28
        "DISTINCT_DIAGNOSES": 1, "DX_RESPIRATORY": 1, "DISTINCT_PROVIDERS": 1, "PDE_FILLS": 1, "PDE_DAYS_SUPPLY": 90,
        "NEXT_YEAR_COST": 40.0,
    },
    (A, 2010): {
        **ZERO,
        "AGE": 69, "SEX": 1, "RACE": 1, "STATE": 5, "ESRD": 0, "CC_COUNT": 0, "DIED_IN_YEAR": 0,
        "HI_MONTHS": 6, "PLAN_MONTHS": 12,
        "CAR_PAYMENT": 40.0, "TOTAL_PAYMENT": 40.0, "CAR_CLAIMS": 1,
        "DISTINCT_DIAGNOSES": 1, "DX_NEOPLASM": 1,  # 1629
        "NEXT_YEAR_COST": None,  # no 2011 file
    },
    (B, 2008): {
        **ZERO,
        "AGE": 2008 - 1930,  # born 1 January: birthday already reached on 1 January
        "SEX": 2, "RACE": 2, "STATE": 54, "ESRD": 0, "CC_COUNT": 0, "DIED_IN_YEAR": 0,
        "HI_MONTHS": 12, "PLAN_MONTHS": 12,
        "CAR_PAYMENT": 70.0, "TOTAL_PAYMENT": 70.0, "CAR_CLAIMS": 1,  # 301 once: the 70.00 row, not the 20.00 one
        "DISTINCT_DIAGNOSES": 1, "DX_MENTAL": 1, "DISTINCT_PROVIDERS": 1,  # 2900 and 3333333333 only
        "NEXT_YEAR_COST": -10 + 10.0,  # present in 2009 with a zero total: 0, not null
    },
    (B, 2009): {
        **ZERO,
        "AGE": 79, "SEX": 2, "RACE": 2, "STATE": 54, "ESRD": 0, "CC_COUNT": 0, "DIED_IN_YEAR": 1,
        "HI_MONTHS": 12, "PLAN_MONTHS": 12,
        "OP_PAYMENT": -10.0, "PDE_COST": 10.0, "TOTAL_PAYMENT": 0.0, "OP_CLAIMS": 1,
        "DISTINCT_DIAGNOSES": 1, "DX_CIRCULATORY": 1, "DISTINCT_PROVIDERS": 1, "PDE_FILLS": 1, "PDE_DAYS_SUPPLY": 0,
        "NEXT_YEAR_COST": None,  # died, absent from the 2010 file
    },
    (C, 2008): {
        **ZERO,
        "AGE": 2008 - 1950 - 1, "SEX": 1, "RACE": 5, "STATE": 5, "ESRD": 0, "CC_COUNT": 0, "DIED_IN_YEAR": 0,
        "HI_MONTHS": 12, "PLAN_MONTHS": 12,
        "NEXT_YEAR_COST": None,  # absent from the 2009 file (present again in 2010)
    },
    (C, 2010): {
        **ZERO,
        "AGE": 59, "SEX": 1, "RACE": 5, "STATE": 5, "ESRD": 0, "CC_COUNT": 0, "DIED_IN_YEAR": 0,
        "HI_MONTHS": 12, "PLAN_MONTHS": 12, "NEXT_YEAR_COST": None,
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def tables_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_tables(tmp_path_factory.mktemp("hand"), 1, ROWS))


@pytest.fixture(scope="module")
def features(spark, tables_root: str):
    return build_features(read_tables(spark, tables_root, 1))


def test_schema_is_the_contract(features) -> None:
    arrow = features.toArrow()
    assert [(f.name, f.type) for f in arrow.schema] == [(f.name, f.type) for f in FEATURE_SCHEMA]


def on_duckdb(root: str | Path, sample: int, out: Path) -> pa.Table:
    """The feature table of ``sample`` computed by DuckDB (the local engine) from the tables under ``root``."""
    files = {t: [str(Path(root).parent / layout.table_file(t, sample))] for t in TABLE_NAMES}
    rows = features_duckdb.write_features(files, out / "part-0.parquet", out / "tmp", memory_limit="1GB")
    table = pq.read_table(out / "part-0.parquet")
    assert table.num_rows == rows
    return table


def test_values_computed_by_hand(features) -> None:
    check_by_hand({(r["DESYNPUF_ID"], r["YEAR"]): r.asDict() for r in features.collect()})


def test_duckdb_gives_the_same_values_and_schema(tables_root: str, tmp_path: Path) -> None:
    table = on_duckdb(tables_root, 1, tmp_path)
    assert [(f.name, f.type) for f in table.schema] == [(f.name, f.type) for f in FEATURE_SCHEMA]
    check_by_hand({(r["DESYNPUF_ID"], r["YEAR"]): r for r in table.to_pylist()})


def test_duckdb_names_a_missing_column(tmp_path: Path) -> None:
    root = write_tables(tmp_path, 1, {})
    path = root / "carrier_claims" / "sample=01" / "part-0.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["CLM_THRU_DT"]), path)
    with pytest.raises(ValueError, match=r"carrier_claims.*part-0.parquet.*CLM_THRU_DT"):
        on_duckdb(root, 1, tmp_path / "out")


def test_engines_agree_row_for_row_on_a_generated_sample(spark, small_generated_root: Path, tmp_path: Path) -> None:
    """Spark SQL and DuckDB run the same query: every row and column equal (the 51 checksums, and more)."""
    spark_rows = build_features(read_tables(spark, str(small_generated_root), 1)).toArrow()
    duck_rows = on_duckdb(small_generated_root, 1, tmp_path)
    order = [("DESYNPUF_ID", "ascending"), ("YEAR", "ascending")]
    assert spark_rows.num_rows > 2000
    assert [(f.name, f.type) for f in spark_rows.schema] == [(f.name, f.type) for f in duck_rows.schema]
    # Spark marks some columns NOT NULL, DuckDB none: the same types and values either way.
    assert spark_rows.cast(duck_rows.schema).sort_by(order).equals(duck_rows.sort_by(order))


def check_by_hand(rows: dict[tuple[str, int], dict]) -> None:
    assert set(rows) == set(EXPECTED)
    for key, expected in EXPECTED.items():
        row = rows[key]
        assert row["sample"] == 1
        cc_default = {c: 0 for c in row if c.startswith("CC_") and c != "CC_COUNT"}
        months = {"SMI_MONTHS": 12, "HMO_MONTHS": 0}
        want = {**cc_default, **months, **expected}
        got = {k: row[k] for k in want}
        assert got == want, f"{key}: {sorted(k for k in want if got[k] != want[k])}"


def test_write_is_idempotent_and_counts(spark, features, tmp_path) -> None:
    out = str(tmp_path / "features" / "sample=01")
    assert write_features(features, out) == 7
    assert write_features(features, out) == 7  # overwrite, not append
    back = spark.read.parquet(out)
    assert back.columns == FEATURE_SCHEMA.names  # the Hive-named directory read directly adds no column
    assert back.exceptAll(features).count() == 0 and features.exceptAll(back).count() == 0


def test_missing_table_names_the_path(spark, tmp_path) -> None:
    import shutil

    root = write_tables(tmp_path, 3, {})
    shutil.rmtree(root / "inpatient_claims" / "sample=03")
    with pytest.raises(FileNotFoundError, match=r"inpatient_claims.*sample=03"):
        read_tables(spark, str(root), 3)


def test_missing_column_names_table_and_column(spark, tmp_path) -> None:
    import pyarrow.parquet as pq

    root = write_tables(tmp_path, 1, {})
    path = root / "carrier_claims" / "sample=01" / "part-0.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["CLM_THRU_DT"]), path)
    with pytest.raises(ValueError, match=r"carrier_claims.*CLM_THRU_DT"):
        read_tables(spark, str(root), 1)


def test_empty_claims_give_zeros(spark, tmp_path) -> None:
    root = write_tables(tmp_path, 4, {"beneficiary_summary": [bene(A, 2008, "1940-03-01")]})
    (row,) = build_features(read_tables(spark, str(root), 4)).collect()
    assert row["TOTAL_PAYMENT"] == 0.0 and row["DISTINCT_DIAGNOSES"] == 0 and row["NEXT_YEAR_COST"] is None
    assert pa.types.is_float64(FEATURE_SCHEMA.field("TOTAL_PAYMENT").type)


def test_session_is_cached_and_tuned(spark) -> None:
    from cms_assets.lib.spark.session import get_spark

    assert get_spark() is spark
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.ui.enabled") == "false"
    assert spark.sparkContext.master == "local[*]"
