"""The five typed Parquet tables per sample, converted from the raw zips: checked on the staged file, then published.

Check, then publish: each table is streamed into a private staging file by its IO manager (``tables_io``), its
blocking checks run on that file, and only if they all pass is the staged file returned to the IO manager, which
publishes it atomically. A failing check is recorded (per partition, so the UI and the automation see it) and the
run fails naming the file; the old table stays as it was, and downstream assets stay held back
(``all_deps_blocking_checks_passed``) until a good file arrives.

The checks can also run on their own (select only the checks): they then re-check the published table.
"""

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import dagster as dg

from cms_assets.defs.automation import on_sample_change
from cms_assets.defs.checks import build_or_recheck, check_results, sample_asset
from cms_assets.defs.io_managers import ParquetIOManager
from cms_assets.defs.kinds import STORAGE
from cms_assets.defs.metadata import column_schema
from cms_assets.defs.resources import StorageResource
from cms_assets.lib.arrow_io import DiskFullError
from cms_assets.lib.ingest.checks import WARN_CHECKS, CheckOutcome, checks_for
from cms_assets.lib.storage import Storage
from cms_assets.lib.synpuf.codebook import describe
from cms_assets.lib.synpuf.names import sample_of_partition
from cms_assets.lib.synpuf.tables import TABLES, Kind, TableSpec
from cms_assets.lib.versions import sha256_of

_DESCRIPTIONS = {
    Kind.BENEFICIARY: "One row per beneficiary and year (2008-2010) with demographics, conditions and annual amounts.",
    Kind.INPATIENT: "Inpatient claims 2008-2010, one row per claim segment.",
    Kind.OUTPATIENT: "Outpatient claims 2008-2010, one row per claim segment.",
    Kind.CARRIER: "Carrier (physician/supplier) claims 2008-2010, files A and B together.",
    Kind.PDE: "Prescription drug events 2008-2010.",
}


def _run_checks(store: Storage, spec: TableSpec, sample: int, staged: Path | None) -> dict[str, CheckOutcome]:
    return {name: check(store, spec, sample, staged) for name, check in checks_for(spec)}


def _culprit_uris(uris: list[str], failed: list[CheckOutcome]) -> list[str]:
    """The source zips the failed checks point at (a beneficiary file of the wrong year), else all of them."""
    if not all(o.culprits for o in failed):
        return uris
    named = {c for o in failed for c in o.culprits}
    return [u for u in uris if u.rsplit("/", 1)[-1] in named] or uris


def build_table_asset(spec: TableSpec) -> dg.AssetsDefinition:
    """One asset per table: same conversion path, its own checks; claims depend on the beneficiary table."""
    deps: list[dg.CoercibleToAssetDep] = ["raw_cms_zips"]
    if spec.kind is not Kind.BENEFICIARY:
        deps.append(TABLES[Kind.BENEFICIARY].name)  # referential check reads it

    @sample_asset(
        spec.name,
        description=_DESCRIPTIONS[spec.kind],
        group="tables",
        kinds={"parquet", "pyarrow", STORAGE},
        deps=deps,
        automation=on_sample_change(),
        checks=dict(checks_for(spec)),
        warn=WARN_CHECKS,
        metadata={"dagster/column_schema": column_schema(spec.schema, describe)},
        io_manager_key="tables_io",
        code_version="2",
    )
    def _table(
        context: dg.AssetExecutionContext, storage: StorageResource, tables_io: dg.ResourceParam[ParquetIOManager]
    ) -> Iterator[object]:
        store = storage.get()
        sample = sample_of_partition(context.partition_key)
        yield from build_or_recheck(
            context,
            spec.name,
            lambda: _convert_check_publish(context, store, tables_io, spec, sample),
            lambda: _run_checks(store, spec, sample, None),  # the published table, re-checked
            WARN_CHECKS,
        )

    return _table


def _convert_check_publish(
    context: dg.AssetExecutionContext, store: Storage, tables_io: ParquetIOManager, spec: TableSpec, sample: int
) -> Iterator[object]:
    """Convert into a staged file, check it, and hand it to the IO manager (which publishes it) only when every
    blocking check passed."""
    from cms_assets.lib.ingest.convert import ConvertResult, convert_batches, open_raw_zips, raw_zip_uris

    started = time.monotonic()
    pk = context.partition_key
    result = ConvertResult(spec.name, sample, 0)
    with ExitStack() as stack:
        sources = stack.enter_context(open_raw_zips(store, spec.kind, sample))
        try:
            staged = stack.enter_context(
                tables_io.stage(spec.name, pk, convert_batches(spec, sources, sample, result), spec.schema)
            )
        except DiskFullError as e:
            raise dg.Failure(f"{spec.name} {pk}: {e.strerror}; nothing published") from e
        outcomes = _run_checks(store, spec, sample, staged.path)
        failed = [n for n, o in outcomes.items() if not o.passed and n not in WARN_CHECKS]  # WARN: shown, kept
        if failed:
            yield from check_results(spec.name, pk, outcomes, WARN_CHECKS)
            details = "; ".join(outcomes[n].description for n in failed)
            raise dg.Failure(
                f"{spec.name} {pk}: blocking checks {', '.join(failed)} failed on the file converted from "
                f"{', '.join(_culprit_uris(raw_zip_uris(store, spec.kind, sample), [outcomes[n] for n in failed]))} "
                f"({details}); "
                f"nothing published, {tables_io.uri(spec.name, pk)} is unchanged",
                metadata={"failed_checks": ", ".join(failed), "rows": result.rows},
            )
        digest = sha256_of(staged.path)
        bytes_out = staged.path.stat().st_size
        context.log.info(f"{spec.name} {pk}: {result.rows:,} rows checked, published by tables_io")
        yield dg.Output(  # the IO manager publishes the staged file now, while it still exists
            staged,
            output_name=spec.name,
            data_version=dg.DataVersion(digest[:24]),
            metadata={
                "rows_per_file": dg.MetadataValue.json(result.rows_per_file),
                "bytes_in_csv": result.bytes_in,
                "bytes_out_parquet": bytes_out,
                "compression_ratio": round(result.bytes_in / max(bytes_out, 1), 2),
                "seconds": round(time.monotonic() - started, 2),
                "rows_per_second": round(result.rows / max(result.seconds, 1e-9)),
                "sha256": digest,
            },
        )
    yield from check_results(spec.name, pk, outcomes, WARN_CHECKS)


table_assets: list[dg.AssetsDefinition] = [build_table_asset(spec) for spec in TABLES.values()]
