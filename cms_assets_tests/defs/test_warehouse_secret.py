"""No warehouse password reaches the Dagster instance's storage (run snapshots in runs.db, event logs, schedules).

A real persistent instance (SQLite storages under a temporary DAGSTER_HOME), real runs with ``dg.materialize`` of
the warehouse load assets into a real PostgreSQL whose URL carries a password, then every byte under the instance
directory is searched for that password. A control run with the URL passed as a plain string proves the search
finds a stored password (so the test can fail).
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest
import sqlalchemy as sa

from cms_assets.defs.resources import WarehouseResource
from cms_assets.defs.warehouse.assets import build_warehouse_asset
from cms_assets.defs.wiring import resources_for
from cms_assets_tests.fixtures.spark import write_tables

BENE = "00013D2EFD8E45D1"
ROWS = {
    "beneficiary_summary": [
        {"DESYNPUF_ID": BENE, "YEAR": 2008, "SP_STATE_CODE": "03", "BENE_COUNTY_CD": "090", "PLAN_CVRG_MOS_NUM": "00"}
    ],
    "carrier_claims": [{"DESYNPUF_ID": BENE, "CLM_ID": "1", "LINE_NCH_PMT_AMT_1": 0}] * 2,  # a repeated claim
}
ASSETS = [build_warehouse_asset("beneficiary_summary"), build_warehouse_asset("carrier_claims")]


def _contents(path: Path) -> Iterator[bytes]:
    """A file's bytes, and for an SQLite database every value of every table, zlib-inflated where it is
    compressed (Dagster stores run and job snapshots zlib-compressed)."""
    data = path.read_bytes()
    yield data
    if not data.startswith(b"SQLite format 3"):
        return
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    raw = value.encode() if isinstance(value, str) else value
                    if isinstance(raw, bytes):
                        yield raw
                        try:
                            yield zlib.decompress(raw)
                        except zlib.error:
                            pass
    finally:
        con.close()


def _files_holding(root: Path, secret: bytes) -> list[str]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return sorted(str(p.relative_to(root)) for p in files if any(secret in c for c in _contents(p)))


def _run(home: Path, resources: dict) -> None:
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        instance.add_dynamic_partitions("cms_sample", ["sample_01"])
        for _ in range(2):  # two runs: snapshots, event logs and run records all written
            result = dg.materialize(ASSETS, partition_key="sample_01", instance=instance, resources=resources)
            assert result.success


def test_no_password_in_instance_storage(tmp_path: Path, postgres_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    password = urlsplit(postgres_db_url).password
    assert password and len(password) >= 16
    data = tmp_path / "data"
    write_tables(data, 1, ROWS)
    monkeypatch.setenv("CMS_WAREHOUSE_URL", postgres_db_url)
    env = {"CMS_ASSETS_DATA": str(data), "CMS_WAREHOUSE_URL": postgres_db_url, "CMS_WAREHOUSE_SCHEMA": "cms_secret"}
    home = tmp_path / "home"
    _run(home, resources_for("test", env))

    engine = sa.create_engine(postgres_db_url)
    try:
        with engine.connect() as conn:
            codes = 'SELECT "SP_STATE_CODE", "BENE_COUNTY_CD", "PLAN_CVRG_MOS_NUM" FROM cms_secret.beneficiary_summary'
            state, county, months = conn.execute(sa.text(codes)).one()
            carrier = conn.execute(sa.text("SELECT count(*) FROM cms_secret.carrier_claims")).scalar_one()
    finally:
        engine.dispose()
    assert (state, county, months) == ("03", "090", "00") and carrier == 2  # padding kept, the repeat kept
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "runs.db" for p in files) and len(files) >= 3
    assert _files_holding(home, password.encode()) == []

    # Control: the same runs with the URL as a plain config string store the password where the search looks.
    control = tmp_path / "control"
    plain = {**resources_for("test", env), "warehouse": WarehouseResource(url=postgres_db_url, schema_name="cms_c")}
    _run(control, plain)
    assert "history/runs.db" in _files_holding(control, password.encode())


def test_only_urls_with_a_password_become_env_vars() -> None:
    duckdb = resources_for("local", {"CMS_WAREHOUSE_URL": "duckdb:///x.duckdb"})["warehouse"].url
    assert duckdb == "duckdb:///x.duckdb" and not isinstance(duckdb, dg.EnvVar)  # visible, nothing secret
    secret = resources_for("test", {"CMS_WAREHOUSE_URL": "postgresql+psycopg2://u:pw@h:5432/db"})["warehouse"].url
    assert isinstance(secret, dg.EnvVar) and secret.env_var_name == "CMS_WAREHOUSE_URL"
    assert isinstance(resources_for("production", {})["warehouse"].url, dg.EnvVar)
