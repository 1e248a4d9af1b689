"""The warehouse definition: type map, DDL per dialect (Redshift asserted exactly), Redshift COPY statements, and
credentials that never show up in reprs, logs or errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from cms_assets.lib import layout
from cms_assets.lib.ml.schemas import FEATURE_SCHEMA
from cms_assets.lib.storage import LocalStorage
from cms_assets.lib.synpuf.tables import TABLES, Kind
from cms_assets.lib.warehouse.load import Warehouse
from cms_assets.lib.warehouse.schema import WAREHOUSE_TABLES, build_metadata, ddl, sql_type
from cms_assets.lib.warehouse.sources import LoadError, ParquetSource
from cms_assets_tests.lib.warehouse_data import beneficiaries, features, write_parquet

PASSWORD = "Sup3r-Secret-pw"
ROLE = "arn:aws:iam::123456789012:role/cms-redshift-loader"
REDSHIFT_URL = f"redshift+psycopg2://loader:{PASSWORD}@cms.abc123.us-east-1.redshift.amazonaws.com:5439/dev"

PDE_REDSHIFT = """CREATE TABLE IF NOT EXISTS cms.prescription_drug_events (
\t"DESYNPUF_ID" VARCHAR(16) ENCODE zstd,
\t"PDE_ID" VARCHAR(20) ENCODE zstd,
\t"SRVC_DT" DATE ENCODE zstd,
\t"PROD_SRVC_ID" VARCHAR(16) ENCODE zstd,
\t"QTY_DSPNSD_NUM" NUMERIC(12, 3) ENCODE zstd,
\t"DAYS_SUPLY_NUM" SMALLINT ENCODE zstd,
\t"PTNT_PAY_AMT" NUMERIC(12, 2) ENCODE zstd,
\t"TOT_RX_CST_AMT" NUMERIC(12, 2) ENCODE zstd,
\tsample SMALLINT ENCODE raw NOT NULL
) DISTSTYLE KEY DISTKEY ("DESYNPUF_ID") SORTKEY (sample, "DESYNPUF_ID")"""

METRICS_REDSHIFT = """CREATE TABLE IF NOT EXISTS cms.model_metrics (
\t"MODEL_VERSION" VARCHAR(64) ENCODE raw,
\t"MODEL_NAME" VARCHAR(64) ENCODE zstd,
\t"SPLIT" VARCHAR(32) ENCODE zstd,
\t"METRIC" VARCHAR(32) ENCODE zstd,
\t"VALUE" DOUBLE PRECISION ENCODE zstd,
\t"SELECTED" BOOLEAN ENCODE zstd,
\t"TRAINED_AT" TIMESTAMP WITH TIME ZONE ENCODE zstd
) DISTSTYLE ALL SORTKEY ("MODEL_VERSION")"""

PDE_POSTGRES = """CREATE TABLE IF NOT EXISTS cms.prescription_drug_events (
\t"DESYNPUF_ID" VARCHAR(16),
\t"PDE_ID" VARCHAR(20),
\t"SRVC_DT" DATE,
\t"PROD_SRVC_ID" VARCHAR(16),
\t"QTY_DSPNSD_NUM" NUMERIC(12, 3),
\t"DAYS_SUPLY_NUM" SMALLINT,
\t"PTNT_PAY_AMT" NUMERIC(12, 2),
\t"TOT_RX_CST_AMT" NUMERIC(12, 2),
\tsample SMALLINT NOT NULL
)"""


@pytest.mark.parametrize(
    ("column", "arrow_type", "sql"),
    [
        ("DESYNPUF_ID", pa.string(), "VARCHAR(16)"),
        ("ICD9_DGNS_CD_3", pa.string(), "VARCHAR(8)"),
        ("BENE_ESRD_IND", pa.string(), "VARCHAR(1)"),
        ("SOMETHING_ELSE", pa.large_string(), "VARCHAR(256)"),
        ("BENE_BIRTH_DT", pa.date32(), "DATE"),
        ("CLM_PMT_AMT", pa.decimal128(12, 2), "NUMERIC(12, 2)"),
        ("SP_CHF", pa.int8(), "SMALLINT"),
        ("YEAR", pa.int16(), "SMALLINT"),
        ("IP_CLAIMS", pa.int32(), "INTEGER"),
        ("N", pa.int64(), "BIGINT"),
        ("VALUE", pa.float64(), "DOUBLE PRECISION"),
        ("SELECTED", pa.bool_(), "BOOLEAN"),
        ("TRAINED_AT", pa.timestamp("s", tz="UTC"), "TIMESTAMP WITH TIME ZONE"),
        ("LOCAL_TS", pa.timestamp("us"), "TIMESTAMP WITHOUT TIME ZONE"),
    ],
)
def test_arrow_to_sql_type_map(column: str, arrow_type: pa.DataType, sql: str) -> None:
    assert str(sql_type(column, arrow_type).compile(dialect=postgresql.dialect())) == sql


def test_unmappable_type_is_named() -> None:
    with pytest.raises(TypeError, match="'X'.*list<item: int32>"):
        sql_type("X", pa.list_(pa.int32()))


def test_tables_mirror_the_arrow_schemas() -> None:
    md = build_metadata("cms")
    assert sorted(t.name for t in md.tables.values()) == sorted(WAREHOUSE_TABLES)
    for wt in WAREHOUSE_TABLES.values():
        assert [c.name for c in md.tables[f"cms.{wt.name}"].columns] == wt.arrow_schema.names
    assert WAREHOUSE_TABLES["carrier_claims"].arrow_schema == TABLES[Kind.CARRIER].schema
    assert WAREHOUSE_TABLES["beneficiary_features"].arrow_schema == FEATURE_SCHEMA


def test_redshift_ddl_exactly() -> None:
    statements = ddl("redshift")
    assert statements[0] == "CREATE SCHEMA IF NOT EXISTS cms"
    assert PDE_REDSHIFT in statements and METRICS_REDSHIFT in statements
    assert len(statements) == 1 + len(WAREHOUSE_TABLES)  # Redshift has no indexes
    bene = next(s for s in statements if "beneficiary_summary" in s)
    assert bene.endswith(') DISTSTYLE KEY DISTKEY ("DESYNPUF_ID") SORTKEY (sample, "YEAR", "DESYNPUF_ID")')


def test_postgres_and_duckdb_ddl() -> None:
    pg = ddl("postgresql")
    assert PDE_POSTGRES in pg
    assert (
        "CREATE INDEX IF NOT EXISTS ix_prescription_drug_events_sample ON cms.prescription_drug_events (sample)" in pg
    )
    assert not any("ENCODE" in s or "DISTKEY" in s for s in pg)
    duck = ddl("duckdb", schema="analytics")
    assert duck[0] == "CREATE SCHEMA IF NOT EXISTS analytics" and not any("INDEX" in s for s in duck)
    assert all("cms." not in s for s in duck)
    with pytest.raises(ValueError, match="unknown dialect 'mysql'"):
        ddl("mysql")


def test_postgres_columns_have_the_declared_types(postgres_db_url: str) -> None:
    wh = Warehouse.from_url(postgres_db_url, schema="cms_types")
    wh.ensure_schema()
    wh.ensure_schema()
    rows = wh.query(
        "SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale, is_nullable "
        "FROM information_schema.columns WHERE table_schema = 'cms_types' AND table_name = 'beneficiary_summary' "
        "ORDER BY ordinal_position"
    ).to_pylist()
    cols = {r["column_name"]: r for r in rows}
    assert list(cols) == TABLES[Kind.BENEFICIARY].schema.names
    assert (cols["DESYNPUF_ID"]["data_type"], cols["DESYNPUF_ID"]["character_maximum_length"]) == (
        "character varying",
        16,
    )
    assert (cols["MEDREIMB_IP"]["numeric_precision"], cols["MEDREIMB_IP"]["numeric_scale"]) == (12, 2)
    assert cols["BENE_BIRTH_DT"]["data_type"] == "date"
    assert (cols["sample"]["data_type"], cols["sample"]["is_nullable"]) == ("smallint", "NO")


def test_redshift_copy_statements_exactly() -> None:
    wh = Warehouse.from_url(REDSHIFT_URL, iam_role=ROLE)
    b = wh.backend
    assert b.copy_statements("carrier_claims", "s3://cms-bucket/synpuf/tables/carrier_claims/sample=03/") == [
        "CREATE TEMP TABLE carrier_claims_staging (LIKE cms.carrier_claims)",
        "COPY carrier_claims_staging FROM 's3://cms-bucket/synpuf/tables/carrier_claims/sample=03/' "
        f"IAM_ROLE '{ROLE}' FORMAT AS PARQUET",
    ]
    assert b.copy_statements("beneficiary_features", "s3://b/_warehouse/manifests/x.manifest", manifest=True)[1] == (
        f"COPY beneficiary_features_staging FROM 's3://b/_warehouse/manifests/x.manifest' IAM_ROLE '{ROLE}' "
        "FORMAT AS PARQUET MANIFEST"
    )
    assert b.publish_statements("carrier_claims") == [
        "INSERT INTO cms.carrier_claims SELECT * FROM carrier_claims_staging",
        "DROP TABLE carrier_claims_staging",
    ]
    assert b.positional_load  # so a column-order mismatch is refused before COPY


def test_redshift_copies_a_folder_or_writes_a_manifest(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    key = layout.table_file("beneficiary_summary", 3)
    write_parquet(store, key, beneficiaries(3, 5))
    assert ParquetSource(store, [key]).s3_location() == (store.uri(key.rsplit("/", 1)[0]) + "/", False)
    parts = [f"{layout.features_dir(3)}/part-0000{i}.parquet" for i in range(2)]
    for p in parts:
        write_parquet(store, p, beneficiaries(3, 5))
    store.write_bytes(f"{layout.features_dir(3)}/_SUCCESS", b"")  # the folder holds more than the parts
    uri, manifest = ParquetSource(store, parts).s3_location()
    assert manifest and uri.endswith(".manifest")
    entries = json.loads(Path(uri).read_text())["entries"]
    assert [e["url"] for e in entries] == [store.uri(p) for p in parts]
    assert [e["meta"]["content_length"] for e in entries] == [store.size(p) for p in parts]
    assert all(e["mandatory"] for e in entries)


def test_redshift_refuses_local_files_without_connecting(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    write_parquet(store, layout.table_file("beneficiary_summary", 1), beneficiaries(1, 5))
    wh = Warehouse.from_url(REDSHIFT_URL, iam_role=ROLE)
    with pytest.raises(LoadError, match="Redshift loads Parquet from S3") as err:
        wh.load_partition("beneficiary_summary", 1, store, [layout.table_file("beneficiary_summary", 1)])
    assert PASSWORD not in str(err.value)
    no_role = Warehouse.from_url(REDSHIFT_URL)
    with pytest.raises(ValueError, match="needs iam_role"):
        no_role.backend.copy_statements("carrier_claims", "s3://b/x/")


def test_reprs_and_errors_never_show_credentials() -> None:
    for wh in (
        Warehouse.from_url(REDSHIFT_URL, iam_role=ROLE),
        Warehouse.from_url("postgresql://u@db.example:5432/cms", password=PASSWORD),
        Warehouse.from_url(f"postgresql+psycopg2://u:{PASSWORD}@db.example/cms"),
    ):
        for text in (repr(wh), str(wh), wh.backend.describe()):
            assert PASSWORD not in text and ROLE not in text and "***" in text
    rs = Warehouse.from_url(REDSHIFT_URL, iam_role=ROLE).backend
    copy = rs.copy_statements("carrier_claims", "s3://b/t/")[1]
    assert ROLE not in rs.redact(copy) and PASSWORD not in rs.redact(f"failed for {PASSWORD}")
    with pytest.raises(ValueError) as err:
        Warehouse.from_url(f"postgresql://u:{PASSWORD}@host:notaport/db")
    assert PASSWORD not in str(err.value)
    with pytest.raises(ValueError) as err:
        Warehouse.from_url(f"mysql://u:{PASSWORD}@host/db")
    assert PASSWORD not in str(err.value)


def test_real_connection_errors_and_logs_hide_the_password(
    postgres_db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = sa.make_url(postgres_db_url)
    real_password = url.password
    assert real_password
    store = LocalStorage(tmp_path)
    key = layout.table_file("beneficiary_summary", 1)
    write_parquet(store, key, beneficiaries(1, 5))
    caplog.set_level(logging.DEBUG)
    good = Warehouse.from_url(postgres_db_url)
    good.ensure_schema()
    good.load_partition("beneficiary_summary", 1, store, [key])
    wrong = Warehouse.from_url(url.set(password=PASSWORD).render_as_string(hide_password=False))
    with pytest.raises(LoadError) as err:
        wrong.load_partition("beneficiary_summary", 1, store, [key])
    assert "password authentication failed" in str(err.value)
    with pytest.raises(Exception, match="password authentication failed") as op_err:
        wrong.row_count("beneficiary_summary")
    texts = [str(err.value), repr(err.value), str(op_err.value), caplog.text, repr(good), repr(wrong)]
    for text in texts:
        assert real_password not in text and PASSWORD not in text
    assert good.row_count("beneficiary_summary", 1) == beneficiaries(1, 5).num_rows


def test_concurrent_ensure_schema_on_postgres(postgres_db_url: str) -> None:
    """Parallel Dagster runs all call ensure_schema on a fresh warehouse; none may fail on a catalog race."""
    from concurrent.futures import ThreadPoolExecutor

    warehouses = [Warehouse.from_url(postgres_db_url, schema="cms_race") for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda w: w.ensure_schema(), warehouses))
    assert all(warehouses[0].row_count(t) == 0 for t in WAREHOUSE_TABLES)


def test_duckdb_url_options(tmp_path: Path) -> None:
    wh = Warehouse.from_url(f"duckdb:///{tmp_path}/w.duckdb?memory_limit=256MB")
    assert wh.query("SELECT current_setting('memory_limit') AS m").column(0)[0].as_py() == "244.1 MiB"
    with pytest.raises(ValueError, match="unknown DuckDB URL option.*threads"):
        Warehouse.from_url(f"duckdb:///{tmp_path}/w.duckdb?threads=2")
    with pytest.raises(ValueError, match="duckdb:///relative/path.duckdb"):
        Warehouse.from_url("duckdb://host/w.duckdb")


@pytest.mark.parametrize("backend", ["duckdb", "postgresql"])
def test_an_older_warehouse_gets_the_new_columns(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A warehouse built by a release whose feature table lacked the newest columns (HCC_AGE, HCC_INTERACTIONS):
    ensure_schema adds them (null for the rows already there, which stay), four runs at once included, and the new
    release's feature files load."""
    from concurrent.futures import ThreadPoolExecutor

    url = request.getfixturevalue("postgres_db_url") if backend == "postgresql" else f"duckdb:///{tmp_path}/w.duckdb"
    schema = "cms_upgrade"
    wh = Warehouse.from_url(url, schema=schema)
    wh.ensure_schema()
    bene = beneficiaries(1, 40)
    feats = features(bene)
    wh.replace_rows("beneficiary_features", {"sample": 1}, feats)
    table = f"{wh.backend.quote(schema)}.{wh.backend.quote('beneficiary_features')}"
    with wh.backend.transaction() as tx:
        for column in ("HCC_AGE", "HCC_INTERACTIONS"):
            tx.execute(f"ALTER TABLE {table} DROP COLUMN {wh.backend.quote(column)}")
    assert "HCC_AGE" not in wh.backend.table_columns("beneficiary_features")
    with pytest.raises(LoadError, match="missing columns.*HCC_AGE|unexpected columns HCC_AGE"):
        wh.replace_rows("beneficiary_features", {"sample": 2}, feats)  # what an upgrade met before

    warehouses = [Warehouse.from_url(url, schema=schema) for _ in range(4)] if backend == "postgresql" else [wh]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda w: w.ensure_schema(), warehouses))
    assert wh.backend.table_columns("beneficiary_features")[-2:] == ["HCC_AGE", "HCC_INTERACTIONS"]
    old = wh.query(f'SELECT count(*) AS n, count("HCC_AGE") AS ages FROM {table} WHERE sample = 1').to_pylist()
    assert old == [{"n": feats.num_rows, "ages": 0}]  # the rows already there stay, with nulls
    wh.replace_rows("beneficiary_features", {"sample": 1}, feats)  # the rebuilt partition fills them
    ages = wh.query(f'SELECT count("HCC_AGE") AS ages FROM {table}').column(0)[0].as_py()
    assert ages == feats.num_rows
    wh.ensure_schema()  # nothing left to add
    assert len(wh.backend.table_columns("beneficiary_features")) == len(
        WAREHOUSE_TABLES["beneficiary_features"].arrow_schema
    )
