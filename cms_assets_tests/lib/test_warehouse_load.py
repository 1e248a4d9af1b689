"""Warehouse loads against real DuckDB files and a real PostgreSQL server: idempotent, atomic, checked."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cms_assets.lib import layout
from cms_assets.lib.storage import LocalStorage
from cms_assets.lib.transform import layer_schema
from cms_assets.lib.warehouse.load import Warehouse, partition_keys
from cms_assets.lib.warehouse.sources import LoadError, ParquetSource
from cms_assets_tests.lib.warehouse_data import beneficiaries, build_marts, metrics, write_parquet, write_sample

BACKENDS = ["duckdb", "postgresql"]
BENE = "beneficiary_summary"


def _url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path}/wh.duckdb"
    return request.getfixturevalue("postgres_db_url")


@pytest.fixture(params=BACKENDS)
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _url(request, tmp_path)


@pytest.fixture
def wh(warehouse_url: str) -> Warehouse:
    w = Warehouse.from_url(warehouse_url)
    w.ensure_schema()
    return w


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "data")


def _load(wh: Warehouse, storage: LocalStorage, table: str, sample: int):
    return wh.load_partition(table, sample, storage, partition_keys(storage, table, sample))


def _fingerprint(wh: Warehouse, sample: int) -> list[tuple]:
    """Every beneficiary row of a sample, reduced to comparable values (ids, year, money as text)."""
    rows = wh.query(
        'SELECT "DESYNPUF_ID", "YEAR", CAST("MEDREIMB_IP" AS VARCHAR(20)), CAST("BENE_BIRTH_DT" AS VARCHAR(10)) '
        f"FROM {wh.schema}.beneficiary_summary WHERE sample = {sample} ORDER BY 1, 2"
    )
    return [tuple(r.values()) for r in rows.to_pylist()]


def _expected(table: pa.Table) -> list[tuple]:
    t = table.sort_by([("DESYNPUF_ID", "ascending"), ("YEAR", "ascending")])
    return [
        (r["DESYNPUF_ID"], r["YEAR"], str(r["MEDREIMB_IP"]), str(r["BENE_BIRTH_DT"]) if r["BENE_BIRTH_DT"] else None)
        for r in t.to_pylist()
    ]


def test_ensure_schema_is_idempotent(wh: Warehouse) -> None:
    wh.ensure_schema()
    for table in (BENE, "carrier_claims", "beneficiary_features", "cost_predictions", "model_metrics"):
        assert wh.row_count(table) == 0


def test_load_then_reload_gives_the_same_rows(wh: Warehouse, storage: LocalStorage) -> None:
    one, two = write_sample(storage, 1, version=None), write_sample(storage, 2, version=None)
    first = _load(wh, storage, BENE, 1)
    _load(wh, storage, BENE, 2)
    assert (first.table, first.sample, first.rows) == (BENE, 1, one[BENE].num_rows)
    assert wh.row_count(BENE, 1) == one[BENE].num_rows and wh.row_count(BENE, 2) == two[BENE].num_rows
    assert _fingerprint(wh, 1) == _expected(one[BENE])
    again = _load(wh, storage, BENE, 1)  # idempotent: no duplicates, same rows, other sample untouched
    assert again.rows == first.rows
    assert wh.row_count(BENE) == one[BENE].num_rows + two[BENE].num_rows
    assert _fingerprint(wh, 1) == _expected(one[BENE])
    assert _fingerprint(wh, 2) == _expected(two[BENE])
    smaller = beneficiaries(1, 10, seed=5)  # a new version of the sample replaces the old one entirely
    write_parquet(storage, layout.table_file(BENE, 1), smaller)
    _load(wh, storage, BENE, 1)
    assert _fingerprint(wh, 1) == _expected(smaller)
    assert wh.row_count(BENE, 2) == two[BENE].num_rows


def test_every_table_round_trips_exactly(wh: Warehouse, storage: LocalStorage) -> None:
    written = write_sample(storage, 3, n=40)
    for table, data in written.items():
        result = _load(wh, storage, table, 3)
        assert result.rows == data.num_rows == wh.row_count(table, 3), table
        got = wh.query(f"SELECT * FROM {wh.schema}.{table}").to_pylist()
        key = [n for n in ("DESYNPUF_ID", "CLM_ID", "PDE_ID", "YEAR") if n in data.schema.names]
        want = data.to_pylist()
        assert sorted(got, key=lambda r: tuple(r[k] for k in key)) == sorted(
            want, key=lambda r: tuple(r[k] for k in key)
        ), table


def test_features_from_a_spark_folder_skip_markers(storage: LocalStorage) -> None:
    write_sample(storage, 4, n=20)
    keys = partition_keys(storage, "beneficiary_features", 4)
    assert [k.rsplit("/", 1)[1] for k in keys] == ["part-00000.parquet", "part-00001.parquet"]
    with pytest.raises(FileNotFoundError, match="beneficiary_features sample 5"):
        partition_keys(storage, "beneficiary_features", 5)


@pytest.mark.parametrize("step", ["deleted", "inserted"])
def test_failure_mid_load_keeps_previous_rows(wh: Warehouse, storage: LocalStorage, step: str) -> None:
    old = write_sample(storage, 1, version=None)[BENE]
    _load(wh, storage, BENE, 1)
    write_parquet(storage, layout.table_file(BENE, 1), beneficiaries(1, 25, seed=9))

    def explode(at: str) -> None:
        if at == step:
            raise RuntimeError(f"injected failure after {at}")

    wh.checkpoint = explode
    with pytest.raises(LoadError, match=f"nothing was committed.*injected failure after {step}"):
        _load(wh, storage, BENE, 1)
    assert _fingerprint(wh, 1) == _expected(old)


def test_killed_process_mid_load_keeps_previous_rows(warehouse_url: str, storage: LocalStorage) -> None:
    """SIGKILL the loading process between DELETE and COMMIT: the database must still hold the old partition."""
    wh = Warehouse.from_url(warehouse_url)
    wh.ensure_schema()
    old = write_sample(storage, 1, version=None)[BENE]
    _load(wh, storage, BENE, 1)
    wh.close()
    write_parquet(storage, layout.table_file(BENE, 1), beneficiaries(1, 25, seed=9))
    child = textwrap.dedent(
        """
        import os, signal, sys
        from cms_assets.lib.storage import LocalStorage
        from cms_assets.lib.warehouse.load import Warehouse, partition_keys
        wh = Warehouse.from_url(os.environ["WH_URL"])
        wh.checkpoint = lambda step: step == "inserted" and os.kill(os.getpid(), signal.SIGKILL)
        store = LocalStorage(sys.argv[1])
        wh.load_partition("beneficiary_summary", 1, store, partition_keys(store, "beneficiary_summary", 1))
        """
    )
    env = {**os.environ, "WH_URL": warehouse_url, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.run([sys.executable, "-c", child, str(storage.root)], env=env, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert _fingerprint(Warehouse.from_url(warehouse_url), 1) == _expected(old)


def test_postgres_connection_killed_mid_load_keeps_previous_rows(postgres_db_url: str, storage: LocalStorage) -> None:
    import sqlalchemy as sa

    wh = Warehouse.from_url(postgres_db_url)
    wh.ensure_schema()
    old = write_sample(storage, 1, version=None)[BENE]
    _load(wh, storage, BENE, 1)
    write_parquet(storage, layout.table_file(BENE, 1), beneficiaries(1, 25, seed=9))
    admin = sa.create_engine(postgres_db_url)

    def kill_loader(step: str) -> None:
        if step == "deleted":
            with admin.connect() as conn:
                killed = conn.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND state LIKE 'idle in transaction%'"
                ).fetchall()
            assert killed == [(True,)]

    wh.checkpoint = kill_loader
    with pytest.raises(LoadError, match="nothing was committed"):
        _load(wh, storage, BENE, 1)
    admin.dispose()
    wh.checkpoint = None
    assert _fingerprint(wh, 1) == _expected(old)  # and the pool recovered from the dead connection


def test_mismatched_columns_are_refused_and_change_nothing(wh: Warehouse, storage: LocalStorage) -> None:
    old = write_sample(storage, 1, version=None)[BENE]
    _load(wh, storage, BENE, 1)
    bad = beneficiaries(1, 10, seed=3)
    bad = bad.drop_columns(["BENE_COUNTY_CD"]).append_column("COUNTY", pa.array([1] * bad.num_rows))
    write_parquet(storage, layout.table_file(BENE, 1), bad)
    with pytest.raises(LoadError) as err:
        _load(wh, storage, BENE, 1)
    message = str(err.value)
    for part in (f"{wh.schema}.{BENE}", "sample=1", "sample=01/part-0.parquet", "BENE_COUNTY_CD", "COUNTY"):
        assert part in message
    assert _fingerprint(wh, 1) == _expected(old)

    i = bad.schema.get_field_index("COUNTY")
    retyped = beneficiaries(1, 10, seed=3)
    retyped = retyped.set_column(
        retyped.schema.get_field_index("MEDREIMB_IP"), "MEDREIMB_IP", pc.cast(retyped["MEDREIMB_IP"], pa.float64())
    )
    assert i >= 0
    write_parquet(storage, layout.table_file(BENE, 1), retyped)
    with pytest.raises(LoadError, match=r"column MEDREIMB_IP is double \(DOUBLE PRECISION\).*NUMERIC\(12, 2\)"):
        _load(wh, storage, BENE, 1)
    assert _fingerprint(wh, 1) == _expected(old)


def test_rows_of_another_sample_fail_the_row_count_check(wh: Warehouse, storage: LocalStorage) -> None:
    old = write_sample(storage, 2, version=None)[BENE]
    _load(wh, storage, BENE, 2)
    stray = beneficiaries(3, 12, seed=4)  # rows saying sample 3, filed under sample=02
    write_parquet(storage, layout.table_file(BENE, 2), stray)
    with pytest.raises(LoadError, match=rf"metadata says {stray.num_rows} rows .* 0 now match sample=2"):
        _load(wh, storage, BENE, 2)
    assert _fingerprint(wh, 2) == _expected(old)
    assert wh.row_count(BENE, 3) == 0


def test_model_metrics_are_replaced_per_version(wh: Warehouse, storage: LocalStorage) -> None:
    t1 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    v1 = metrics("v1", t1)
    assert wh.replace_rows("model_metrics", {"MODEL_VERSION": "v1"}, v1).rows == v1.num_rows
    wh.replace_rows("model_metrics", {"MODEL_VERSION": "v1"}, v1)
    write_parquet(storage, f"{layout.model_dir('v2')}/metrics.parquet", metrics("v2", t1 + dt.timedelta(days=1)))
    wh.replace_rows("model_metrics", {"MODEL_VERSION": "v2"}, storage, [f"{layout.model_dir('v2')}/metrics.parquet"])
    assert wh.row_count("model_metrics") == 2 * v1.num_rows
    with pytest.raises(LoadError, match="metadata says"):  # rows of v1 offered as v3: refused
        wh.replace_rows("model_metrics", {"MODEL_VERSION": "v3"}, v1)
    got = wh.query(f"SELECT * FROM {wh.schema}.model_metrics WHERE \"MODEL_VERSION\" = 'v1'").to_pylist()
    assert sorted(got, key=str) == sorted(v1.to_pylist(), key=str)


def test_marts_return_plausible_numbers(wh: Warehouse, storage: LocalStorage, warehouse_url: str) -> None:
    """The dbt marts on loaded samples agree with the source rows (what the retired BI views were checked for)."""
    data = [write_sample(storage, s, n=80) for s in (1, 2)]
    for table in data[0]:
        for s in (1, 2):
            _load(wh, storage, table, s)
    t1 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    wh.replace_rows("model_metrics", {"MODEL_VERSION": "v1"}, metrics("v1", t1))
    wh.replace_rows("model_metrics", {"MODEL_VERSION": "v2"}, metrics("v2", t1 + dt.timedelta(hours=1)))
    build_marts(wh, warehouse_url)
    build_marts(wh, warehouse_url)  # rebuilt in place: idempotent
    bene = pa.concat_tables(d[BENE] for d in data)
    m = layer_schema(wh.schema, "marts")

    by_year = wh.query(
        "SELECT year, SUM(CASE WHEN setting = 'inpatient' THEN beneficiaries END) AS n, SUM(paid_amount) AS total "
        f"FROM {m}.financial_pmpm WHERE dimension = 'state' AND setting IN ('inpatient', 'outpatient', 'carrier') "
        "GROUP BY year ORDER BY year"
    ).to_pylist()
    for row in by_year:
        year = bene.filter(pc.equal(bene["YEAR"], row["year"]))
        total = sum(pc.sum(year[c]).as_py() for c in ("MEDREIMB_IP", "MEDREIMB_OP", "MEDREIMB_CAR"))  # exact decimals
        assert row["n"] == year.num_rows and row["total"] == total
    assert [r["year"] for r in by_year] == [2008, 2009, 2010]

    everyone = f"SELECT SUM(beneficiaries) AS n FROM {m}.financial_pmpm WHERE dimension = 'all' AND setting = 'carrier'"
    assert wh.query(everyone).column(0)[0].as_py() == bene.num_rows
    # the Part A/B settings (Part D events of a year without a beneficiary row are kept under 'unknown')
    cells = f"SELECT DISTINCT dimension_value FROM {m}.financial_pmpm WHERE setting = 'carrier' AND dimension = "
    bands = wh.query(cells + "'age_band'").column(0).to_pylist()
    assert set(bands) <= {"<65", "65-74", "75-84", "85+"} and len(bands) >= 3
    assert set(wh.query(cells + "'sex'").column(0).to_pylist()) == {"male", "female"}

    cc = wh.query(f"SELECT * FROM {m}.chronic_conditions ORDER BY year, condition_code").to_pylist()
    assert len(cc) == 11 * 3
    chf08 = next(r for r in cc if r["condition_code"] == "CHF" and r["year"] == 2008)
    b08 = bene.filter(pc.equal(bene["YEAR"], 2008))
    with_chf = pc.sum(pc.equal(b08["SP_CHF"], 1)).as_py()
    assert chf08["with_condition"] == with_chf
    assert float(chf08["prevalence"]) == pytest.approx(with_chf / b08.num_rows)
    assert all(0 < r["prevalence"] < 1 for r in cc)

    preds = pa.concat_tables(d["cost_predictions"] for d in data)
    feats = pa.concat_tables(d["beneficiary_features"] for d in data)
    hc = wh.query(
        f"SELECT SUM(high_cost) AS hc, SUM(scored) AS n, SUM(actual_cost_high_cost) AS actual FROM {m}.high_cost_cohort"
    ).to_pylist()[0]
    assert hc["n"] == preds.num_rows
    assert hc["hc"] == pc.sum(preds["HIGH_COST"]).as_py() > 0
    actual = {(r["DESYNPUF_ID"], r["YEAR"]): r["NEXT_YEAR_COST"] for r in feats.to_pylist()}
    holdout_high = [r for r in preds.to_pylist() if r["HIGH_COST"] == 1 and r["SCOPE"] == "holdout"]
    want = sum(actual[(r["DESYNPUF_ID"], r["YEAR"])] or 0 for r in holdout_high)
    assert want > 0 and float(hc["actual"]) == pytest.approx(want)  # current-scope rows have no actuals to add

    latest = wh.query(f"SELECT DISTINCT model_version FROM {m}.model_metrics_latest").column(0).to_pylist()
    assert latest == ["v2"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_loads_from_s3(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> None:
    """Parquet in SeaweedFS over S3: DuckDB scans a pyarrow dataset, PostgreSQL streams COPY from S3 batches."""
    try:
        s3 = request.getfixturevalue("s3_server")
    except pytest.FixtureLookupError:
        pytest.skip("no s3_server fixture (SeaweedFS) in this checkout")
    storage = s3.make_storage(f"warehouse-{backend}")
    data = write_sample(storage, 1, n=30)
    url = f"duckdb:///{tmp_path}/wh.duckdb" if backend == "duckdb" else request.getfixturevalue("postgres_db_url")
    wh = Warehouse.from_url(url)
    wh.ensure_schema()
    for table, rows in data.items():
        result = wh.load_partition(table, 1, storage, partition_keys(storage, table, 1))
        assert result.rows == rows.num_rows == wh.row_count(table, 1), table
        assert result.method == ("duckdb arrow scan" if backend == "duckdb" else "postgresql binary copy from stdin")
    # What Redshift would COPY from: the partition folder, or a manifest when the folder holds more than the parts.
    carrier = ParquetSource(storage, partition_keys(storage, "carrier_claims", 1))
    assert carrier.s3_location() == (storage.uri("tables/carrier_claims/sample=01") + "/", False)
    uri, manifest = ParquetSource(storage, partition_keys(storage, "beneficiary_features", 1)).s3_location()
    assert manifest and uri.startswith("s3://")
    entries = storage.read_json("_warehouse/manifests/" + uri.rsplit("/", 1)[1])["entries"]
    assert [e["url"] for e in entries] == [storage.uri(k) for k in partition_keys(storage, "beneficiary_features", 1)]


def test_parallel_processes_share_one_duckdb_file(tmp_path: Path, storage: LocalStorage) -> None:
    """Dagster runs loads in separate processes; DuckDB allows one writer, so each waits for the file lock."""
    data = {s: write_sample(storage, s, n=30, version=None) for s in (1, 2, 3)}
    url = f"duckdb:///{tmp_path}/wh.duckdb"
    child = textwrap.dedent(
        """
        import sys
        from cms_assets.lib.storage import LocalStorage
        from cms_assets.lib.warehouse.load import Warehouse, partition_keys
        wh, store, sample = Warehouse.from_url(sys.argv[1]), LocalStorage(sys.argv[2]), int(sys.argv[3])
        wh.ensure_schema()
        for table in ("beneficiary_summary", "carrier_claims", "prescription_drug_events"):
            for _ in range(3):
                wh.load_partition(table, sample, store, partition_keys(store, table, sample))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    procs = [
        subprocess.Popen([sys.executable, "-c", child, url, str(storage.root), str(s)], env=env, stderr=subprocess.PIPE)
        for s in data
    ]
    errors = [p.communicate(timeout=300)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    wh = Warehouse.from_url(url)
    for s, tables in data.items():
        assert wh.row_count(BENE, s) == tables[BENE].num_rows
        assert wh.row_count("carrier_claims", s) == tables["carrier_claims"].num_rows


def test_binary_copy_stream_hands_errors_over_and_stops_when_closed() -> None:
    """The encoding thread's error surfaces in COPY's read (so the load rolls back); closing an unfinished stream
    (COPY failed server-side) stops the thread instead of leaving it blocked."""
    from cms_assets.lib.warehouse.backends import _BinaryCopyStream

    def broken() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch({"a": pa.array([1, 2], pa.int8())})
        raise OSError("disk gone")

    stream = _BinaryCopyStream(broken(), [pa.int16()])
    with pytest.raises(OSError, match="disk gone"):
        while stream.read(1 << 20):
            pass
    stream.close()

    endless = (pa.record_batch({"a": pa.array([1] * 1000, pa.int8())}) for _ in iter(int, 1))
    stream = _BinaryCopyStream(endless, [pa.int16()], ahead=1)
    assert stream.read(16)
    stream.close()
    assert not stream._thread.is_alive()
