"""IO managers: where every table, feature set, prediction set and model lives (the storage layout, in one place).

Assets hand over data and receive data; they never name a location:

- :class:`ParquetIOManager` (Arrow): a table asset stages a streamed ``pyarrow.RecordBatchReader`` (or any iterable
  of batches) with :meth:`ParquetIOManager.stage`, runs its blocking checks on the staged file, and returns the
  staged file as its output; ``handle_output`` publishes it atomically (rename locally, an S3 upload that completes
  last). Downstream Python code receives a lazy ``pyarrow.dataset.Dataset``: one partition, or every materialized
  partition for an unpartitioned consumer.
- :class:`SparkIOManager`: loads a partition (or every materialized one) as a Spark DataFrame (read in place from a
  local directory, through ``s3a://`` on a cluster, staged locally only where a local Spark has no S3 connector)
  and writes DataFrames with the same atomic publish. The selected cost model is stored beside them (a Spark ML
  pipeline under a version); its metrics and chart keep their own small writers in :mod:`cms_assets.lib.ml`.

Both sit on :class:`~cms_assets.defs.resources.StorageResource` (a local directory or S3) and on
:mod:`cms_assets.lib.layout`, which the EMR entry point shares on the cluster side.
"""

import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from pydantic import PrivateAttr

from cms_assets.defs.metadata import parquet_preview
from cms_assets.defs.resources import SparkResource, StorageResource
from cms_assets.instance import at_run_end, at_run_start
from cms_assets.lib import layout
from cms_assets.lib.arrow_io import ArrowData, write_parquet
from cms_assets.lib.ml.artifacts import read_latest
from cms_assets.lib.publish import current_prefix, published_keys
from cms_assets.lib.synpuf.names import sample_of_partition
from cms_assets.lib.synpuf.tables import TABLE_NAMES


def partition_location(asset: str, partition_key: str) -> str:
    """The storage prefix holding one partition of an asset (:func:`cms_assets.lib.layout.partition_dir`)."""
    if asset not in TABLE_NAMES and asset not in layout.SPARK_DIRS:
        raise KeyError(f"no storage location for asset {asset!r}")
    return layout.partition_dir(asset, sample_of_partition(partition_key))


@dataclass(frozen=True)
class StagedParquet:
    """A partition's Parquet file written to private staging, not yet published."""

    asset: str
    partition_key: str
    path: Path
    rows: int


@dataclass(frozen=True)
class SparkSource:
    """Where a Spark input lives, for Spark that runs elsewhere (EMR reads it itself): the partitions found and
    their ``s3://`` locations."""

    partition_keys: list[str]
    uris: list[str]


class _PartitionedStorageIO(dg.ConfigurableIOManager):
    """What both IO managers share: the storage, the layout, and which partitions an input covers."""

    storage: StorageResource

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """At run start, before any step claims a pool slot: free the slots of runs killed without freeing theirs,
        or this run would wait for them forever (as StorageResource does; whichever is set up first)."""
        at_run_start(context)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        at_run_end(context)

    def parquet_keys(self, asset: str, partition_key: str) -> list[str]:
        """The published Parquet objects of one partition (a Failure naming the location when there are none)."""
        keys = self._published(asset, partition_key)
        if not keys:
            raise dg.Failure(f"no Parquet files for {asset} {partition_key} under {self.uri(asset, partition_key)}")
        return keys

    def _published(self, asset: str, partition_key: str) -> list[str]:
        """What a reader reads: the files the partition's publish pointer names (see lib/publish.py)."""
        prefix = partition_location(asset, partition_key)
        return [k for k in published_keys(self.storage.get(), prefix) if k.endswith(".parquet")]

    def uri(self, asset: str, partition_key: str) -> str:
        return self.storage.get().uri(partition_location(asset, partition_key))

    def describe(self, asset: str, partition_key: str) -> dict[str, Any]:
        """Metadata of a published partition, whoever wrote it: rows (from the footers), location, a preview."""
        store = self.storage.get()
        keys = self.parquet_keys(asset, partition_key)
        rows = 0
        for key in keys:
            with store.open_read(key) as f:
                rows += pq.ParquetFile(f).metadata.num_rows
        with store.open_read(keys[0]) as f:
            head = parquet_preview(f)
        location = dg.MetadataValue.path(self.uri(asset, partition_key))
        return {"dagster/row_count": rows, "files": len(keys), "location": location, "preview": head}

    def input_parquet(self, context: dg.InputContext) -> dict[str, list[str]]:
        """The Parquet objects of the upstream partitions an input covers, by partition (each listed once): its
        own partition, which must exist, or for an unpartitioned consumer every partition that has been published
        (a registered sample whose files are not there yet is left out, and logged)."""
        asset = context.asset_key.path[-1]
        if not context.has_asset_partitions:
            raise dg.Failure(f"{asset} is partitioned by sample; its IO manager reads it one partition at a time")
        keys = list(context.asset_partition_keys)
        if context.has_partition_key:  # a partitioned consumer: its own partition
            return {k: self.parquet_keys(asset, k) for k in keys}
        listed = {k: self._published(asset, k) for k in keys}
        present = {k: files for k, files in listed.items() if files}
        if len(present) < len(keys):
            context.log.info(f"{asset}: {len(keys) - len(present)} registered partitions not published yet, skipped")
        if not present:
            where = self.uri(asset, keys[0])
            raise dg.Failure(f"no partition of {asset} is published (looked for {len(keys)}, e.g. {where})")
        return present


class ParquetIOManager(_PartitionedStorageIO):
    """Arrow tables as one zstd Parquet file per partition; written streamed, published atomically."""

    @contextmanager
    def stage(self, asset: str, partition_key: str, data: ArrowData, schema: Any = None) -> Iterator[StagedParquet]:
        """Write ``data`` (batches, streamed: memory is a few batches) to a private staging file; it is discarded when
        the block ends unless the asset returned it (and ``handle_output`` published it) inside the block."""
        with self.storage.get().staging_dir() as tmp:
            path = tmp / "part-0.parquet"
            yield StagedParquet(asset, partition_key, path, write_parquet(data, path, schema))

    def handle_output(self, context: dg.OutputContext, obj: StagedParquet | ArrowData | None) -> None:
        if obj is None:  # the asset recorded its own materialization (nothing to write)
            return
        asset, partition_key = context.asset_key.path[-1], context.partition_key
        if isinstance(obj, StagedParquet):
            if (obj.asset, obj.partition_key) != (asset, partition_key):
                other = f"{obj.asset} {obj.partition_key}"
                raise dg.Failure(f"{asset} {partition_key} was handed the staged file of {other}")
            self._publish(obj)
        else:
            with self.stage(asset, partition_key, obj) as staged:
                self._publish(staged)
        context.add_output_metadata(self.describe(asset, partition_key))

    def _publish(self, staged: StagedParquet) -> None:
        if staged.asset not in TABLE_NAMES:
            raise KeyError(f"tables_io stores the CMS tables, not {staged.asset!r}")
        key = layout.table_file(staged.asset, sample_of_partition(staged.partition_key))
        self.storage.get().put_file(staged.path, key)

    def load_input(self, context: dg.InputContext) -> pads.Dataset:
        fs, root = self.storage.get().arrow_fs()
        files = [f"{root}/{k}" for keys in self.input_parquet(context).values() for k in keys]
        return pads.dataset(files, filesystem=fs, format="parquet")


class SparkIOManager(_PartitionedStorageIO):
    """Spark DataFrames as Parquet directories per partition, and the cost model's Spark ML pipeline."""

    spark: SparkResource

    _stage: Path | None = PrivateAttr(default=None)

    def _root(self, prefixes: list[str]) -> str:
        """A root Spark can read ``prefixes`` from; local staging (S3 without a cluster) lives until teardown."""
        if self._stage is None and self.spark.needs_staging(self.storage.get()):
            self._stage = self.storage.scratch("spark") / f"inputs-{uuid.uuid4().hex[:8]}"
        return self.spark.readable(self.storage.get(), self._stage, prefixes)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._stage is not None:
            shutil.rmtree(self._stage, ignore_errors=True)
            self._stage = None
        super().teardown_after_execution(context)

    def read(self, prefixes: list[str]) -> Any:
        """The published sets of ``prefixes`` (each its current version, never an unpublished one)."""
        session = self.spark.session()
        current = [current_prefix(self.storage.get(), p) for p in prefixes]
        root = self._root(current)
        return session.read.parquet(*[f"{root}/{p}" for p in current])

    def load_input(self, context: dg.InputContext) -> Any:
        """A DataFrame of the input's partitions; with EMR, where they are (the job reads them on the cluster)."""
        asset = context.asset_key.path[-1]
        partitions = list(self.input_parquet(context))  # a Failure naming the location when one is missing
        prefixes = [partition_location(asset, pk) for pk in partitions]
        if self.spark.mode == "emr-serverless":
            store = self.storage.get()
            return SparkSource(partitions, [store.uri(current_prefix(store, p)) for p in prefixes])
        return self.read(prefixes)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        context.add_output_metadata(self.publish(obj, context.asset_key.path[-1], context.partition_key))

    def publish(self, df: Any, asset: str, partition_key: str) -> dict[str, Any]:
        """Write ``df`` as ``asset``'s partition and publish it; the metadata of what was published."""
        started = time.monotonic()
        self.write(df, partition_location(asset, partition_key))
        seconds = round(time.monotonic() - started, 2)  # Spark is lazy: this is the whole computation
        return {**self.describe(asset, partition_key), "seconds": seconds}

    def write(self, df: Any, prefix: str) -> None:
        """Write ``df`` and publish it at ``prefix`` (old files replaced only once the new set is complete)."""
        with self._output(prefix) as out:
            df.write.mode("overwrite").parquet(out)

    @contextmanager
    def output_file(self, asset: str, partition_key: str) -> Iterator[Path]:
        """A local path to write ``asset``'s partition to as one Parquet file (an engine other than Spark, e.g. DuckDB),
        published when the block ends."""
        with self._output(partition_location(asset, partition_key)) as out:
            yield Path(out) / layout.PART_FILE

    def _output(self, prefix: str) -> Any:
        return self.spark.output_dir(self.storage.get(), self.storage.scratch("spark"), prefix)

    def model_location(self, version: str) -> str:
        return self.storage.get().uri(layout.model_dir(version))

    @contextmanager
    def model_output(self, version: str) -> Iterator[str]:
        """A directory for Spark ML to save a model version into, published when the block succeeds."""
        with self._output(layout.model_dir(version)) as out:
            yield out

    def load_model(self, version: str) -> Any:
        from cms_assets.lib.spark.model import load_model

        current = current_prefix(self.storage.get(), layout.model_dir(version))
        return load_model(f"{self._root([current])}/{current}")

    def latest_model(self) -> dict[str, Any]:
        """The pointer written by cost_model: which version to score with."""
        try:
            return read_latest(self.storage.get())
        except FileNotFoundError as e:
            raise dg.Failure(str(e)) from e
