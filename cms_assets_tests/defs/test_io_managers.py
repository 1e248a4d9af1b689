"""The IO managers through Dagster's own execution (``dg.materialize``), on a local directory and on S3 (SeaweedFS):
round trip per partition, every partition for an unpartitioned consumer, atomicity, and bounded memory."""

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import psutil
import pyarrow as pa
import pyarrow.dataset as pads
import pytest

from cms_assets.defs.io_managers import ParquetIOManager, SparkIOManager, partition_location
from cms_assets.defs.partitions import cms_sample
from cms_assets.defs.resources import SparkResource, StorageResource
from cms_assets.defs.wiring import with_io_managers
from cms_assets.lib.publish import POINTER, published_keys
from cms_assets.lib.storage import Storage
from cms_assets_tests.fixtures.s3 import S3Server

# Asset keys the layout knows: a table (one file per partition) and a Spark output (a directory per partition).
TABLE = "prescription_drug_events"
SPARK_OUT = "beneficiary_features"
PKS = ["sample_01", "sample_02"]


@pytest.fixture(params=["local", "s3"])
def storage_resource(request: pytest.FixtureRequest, tmp_path: Path) -> StorageResource:
    if request.param == "local":
        return StorageResource(url=str(tmp_path / "data"), scratch_dir=str(tmp_path / "scratch"))
    s3: S3Server = request.getfixturevalue("s3_server")
    bucket = s3.make_storage("lake")
    return StorageResource(
        url=bucket.uri(""), s3_endpoint_url=s3.endpoint_url, aws_access_key_id=s3.access_key,
        aws_secret_access_key=s3.secret_key, scratch_dir=str(tmp_path / "scratch"),
    )  # fmt: skip


def _instance() -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("cms_sample", [*PKS, "sample_03"])  # sample_03: registered, never written
    return instance


def _rows(pk: str, n: int = 1000) -> pa.Table:
    sample = int(pk[-2:])
    return pa.table({"DESYNPUF_ID": [f"{sample:02d}{i:014X}" for i in range(n)], "sample": [sample] * n})


def _reader(table: pa.Table, batch_rows: int = 256) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=batch_rows))


def _store(resource: StorageResource) -> Storage:
    return resource.get()


# ---------------------------------------------------------------- Arrow / Parquet


def _arrow_assets(fail_at: int | None = None) -> tuple[dg.AssetsDefinition, dg.AssetsDefinition, dict[str, Any]]:
    seen: dict[str, Any] = {}

    @dg.asset(name=TABLE, partitions_def=cms_sample, io_manager_key="tables_io")
    def producer(context: dg.AssetExecutionContext) -> pa.RecordBatchReader:
        table = _rows(context.partition_key)
        if fail_at is None:
            return _reader(table)

        def failing() -> Iterator[pa.RecordBatch]:
            for i, batch in enumerate(table.to_batches(max_chunksize=256)):
                if i == fail_at:
                    raise RuntimeError("upstream broke mid-stream")
                yield batch

        return pa.RecordBatchReader.from_batches(table.schema, failing())

    @dg.asset(ins={"rows": dg.AssetIn(TABLE)})
    def consumer(rows: pads.Dataset) -> None:
        seen["all"] = rows

    return producer, consumer, seen


def test_parquet_round_trip_per_partition_and_all_partitions(storage_resource: StorageResource) -> None:
    producer, consumer, seen = _arrow_assets()
    resources = with_io_managers({"storage": storage_resource})
    instance = _instance()
    for pk in PKS:
        result = dg.materialize([producer], partition_key=pk, instance=instance, resources=resources)
        [mat] = result.asset_materializations_for_node(TABLE)
        assert mat.metadata["dagster/row_count"].value == 1000
        assert mat.metadata["location"].value == _store(storage_resource).uri(partition_location(TABLE, pk))

    one: dict[str, pads.Dataset] = {}

    @dg.asset(partitions_def=cms_sample, ins={"rows": dg.AssetIn(TABLE)})
    def per_sample(context: dg.AssetExecutionContext, rows: pads.Dataset) -> None:
        one[context.partition_key] = rows

    dg.materialize([producer, per_sample], selection=[per_sample], partition_key="sample_02", instance=instance,
                   resources=resources)  # fmt: skip
    assert one["sample_02"].to_table().equals(_rows("sample_02"))  # a lazy dataset of that partition only

    dg.materialize([producer, consumer], selection=[consumer], instance=instance, resources=resources)
    combined = seen["all"].to_table().sort_by("DESYNPUF_ID")
    assert combined.equals(pa.concat_tables([_rows(pk) for pk in PKS]).sort_by("DESYNPUF_ID"))  # sample_03 absent


def test_parquet_failed_write_leaves_the_old_partition(storage_resource: StorageResource) -> None:
    good, _, _ = _arrow_assets()
    broken, _, _ = _arrow_assets(fail_at=2)
    store = _failed_overwrite_changes_nothing(good, broken, with_io_managers({"storage": storage_resource}))
    fs, root = store.arrow_fs()
    key = f"{root}/{partition_location(TABLE, 'sample_01')}/part-0.parquet"
    assert pads.dataset(key, filesystem=fs, format="parquet").to_table().equals(_rows("sample_01"))


def _failed_overwrite_changes_nothing(
    good: dg.AssetsDefinition, broken: dg.AssetsDefinition, resources: dict[str, Any]
) -> Storage:
    """Materialize ``good``, then ``broken`` over it: the run fails and the storage holds exactly what it held."""
    instance = _instance()
    dg.materialize([good], partition_key="sample_01", instance=instance, resources=resources)
    store = resources["storage"].get()
    before = sorted((o.key, o.size) for o in store.list(""))
    result = dg.materialize([broken], partition_key="sample_01", instance=instance, resources=resources,
                            raise_on_error=False)  # fmt: skip
    assert not result.success
    assert sorted((o.key, o.size) for o in store.list("")) == before  # no new object, no partial, no temp
    return store


class _PeakRss:
    """The peak resident set size of this process while the block runs, sampled every 10 ms."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.base = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()

    def __enter__(self) -> "_PeakRss":
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.base


def test_parquet_write_memory_stays_flat_at_ten_times_the_batch(storage_resource: StorageResource) -> None:
    """A 480 MB table streamed as 16 MB batches (random bytes: Parquet cannot shrink them) grows this process by
    a few batches (the batch being made, its encoded row group, Arrow's pool keeping freed blocks), not by the
    table: measured 29-101 MB."""
    batch_bytes, batches = 16 << 20, 30
    rows = batch_bytes // 8
    schema = pa.schema([("v", pa.int64())])
    rng = np.random.default_rng(0)

    def stream() -> Iterator[pa.RecordBatch]:
        for _ in range(batches):
            yield pa.record_batch([pa.array(rng.integers(0, 2**62, rows))], schema=schema)

    io = ParquetIOManager(storage=storage_resource)
    context = dg.build_output_context(asset_key=dg.AssetKey(TABLE), partition_key="sample_01")
    with _PeakRss() as rss:
        io.handle_output(context, pa.RecordBatchReader.from_batches(schema, stream()))
    table_bytes = batch_bytes * batches
    print(f"table {table_bytes >> 20} MB in {batches} batches: peak RSS growth {rss.growth >> 20} MB")
    assert rss.growth < 8 * batch_bytes < table_bytes / 3
    store = _store(storage_resource)
    [obj] = [o for o in store.list(partition_location(TABLE, "sample_01"))]
    assert obj.size > 0.9 * table_bytes  # the whole table was written


def test_staged_file_is_published_only_when_returned(storage_resource: StorageResource) -> None:
    """``stage`` writes privately; a staged file never handed back (checks failed) leaves nothing behind."""
    io = ParquetIOManager(storage=storage_resource)
    store = _store(storage_resource)
    with io.stage(TABLE, "sample_01", _reader(_rows("sample_01"))) as staged:
        assert staged.rows == 1000 and staged.path.exists()
        assert not [o for o in store.list("tables")]  # not published
    assert not staged.path.exists() and not [o for o in store.list("") if not o.key.startswith(".staging")]


# ---------------------------------------------------------------- Spark


def _spark_assets(spark_session: Any, fail: bool = False) -> tuple[dg.AssetsDefinition, dg.AssetsDefinition, dict]:
    seen: dict[str, Any] = {}

    @dg.asset(name=SPARK_OUT, partitions_def=cms_sample, io_manager_key="spark_io")
    def producer(context: dg.AssetExecutionContext) -> Any:
        from pyspark.sql import functions as F

        df = spark_session.createDataFrame(_rows(context.partition_key).to_pandas())
        if fail:  # the write fails inside Spark, after some output may exist
            df = df.withColumn("boom", F.raise_error(F.lit("upstream broke")))
        return df

    @dg.asset(ins={"rows": dg.AssetIn(SPARK_OUT)})
    def consumer(rows: Any) -> None:
        seen["all"] = sorted(tuple(r) for r in rows.select("DESYNPUF_ID", "sample").collect())

    return producer, consumer, seen


def _expected(pks: list[str]) -> list[tuple]:
    return sorted(tuple(r.values()) for pk in pks for r in _rows(pk).to_pylist())


def test_spark_round_trip_per_partition_and_all_partitions(spark: Any, storage_resource: StorageResource) -> None:
    producer, consumer, seen = _spark_assets(spark)
    resources = with_io_managers({"storage": storage_resource, "spark": SparkResource()})
    instance = _instance()
    for pk in PKS:
        result = dg.materialize([producer], partition_key=pk, instance=instance, resources=resources)
        [mat] = result.asset_materializations_for_node(SPARK_OUT)
        assert mat.metadata["dagster/row_count"].value == 1000

    one: dict[str, list] = {}

    @dg.asset(partitions_def=cms_sample, ins={"rows": dg.AssetIn(SPARK_OUT)})
    def per_sample(context: dg.AssetExecutionContext, rows: Any) -> None:
        one[context.partition_key] = sorted(tuple(r) for r in rows.select("DESYNPUF_ID", "sample").collect())

    dg.materialize([producer, per_sample], selection=[per_sample], partition_key="sample_01", instance=instance,
                   resources=resources)  # fmt: skip
    assert one["sample_01"] == _expected(["sample_01"])
    dg.materialize([producer, consumer], selection=[consumer], instance=instance, resources=resources)
    assert seen["all"] == _expected(PKS)
    store = _store(storage_resource)
    scratch = Path(storage_resource.scratch_dir) / "spark"
    assert not [p for p in scratch.glob("inputs-*")]  # S3 inputs staged for local Spark are removed after the run
    location = partition_location(SPARK_OUT, "sample_01")
    published = published_keys(store, location)
    assert published and all(k.endswith(".parquet") for k in published)  # no Spark markers published
    assert {o.key for o in store.list(location)} - set(published) <= {f"{location}/{POINTER}"}  # nothing else left


def test_spark_failed_write_leaves_the_old_partition(spark: Any, storage_resource: StorageResource) -> None:
    good, _, _ = _spark_assets(spark)
    broken, _, _ = _spark_assets(spark, fail=True)
    _failed_overwrite_changes_nothing(
        good, broken, with_io_managers({"storage": storage_resource, "spark": SparkResource()})
    )


def test_missing_partition_names_its_location(spark: Any, storage_resource: StorageResource) -> None:
    producer, _, _ = _spark_assets(spark)

    @dg.asset(partitions_def=cms_sample, ins={"rows": dg.AssetIn(SPARK_OUT)})
    def per_sample(rows: Any) -> None:
        raise AssertionError("must not run without its input")

    resources = with_io_managers({"storage": storage_resource, "spark": SparkResource()})
    result = dg.materialize([producer, per_sample], selection=[per_sample], partition_key="sample_03",
                            instance=_instance(), resources=resources, raise_on_error=False)  # fmt: skip
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    where = _store(storage_resource).uri(partition_location(SPARK_OUT, "sample_03"))
    assert where in failure.step_failure_data.error.message


def test_io_managers_are_in_every_deployment() -> None:
    from cms_assets.defs.wiring import resources_for

    for deployment in ("local", "test"):
        resources = resources_for(deployment, {})
        assert isinstance(resources["tables_io"], ParquetIOManager)
        assert isinstance(resources["spark_io"], SparkIOManager)
