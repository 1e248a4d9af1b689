"""The five typed Parquet tables per sample, converted from the raw zips: checked on the staged file, then published.

Check, then publish: each table is written to a private staging file, its blocking checks run on that file, and
only if they all pass does it replace the published table. A failing check is recorded (per partition, so the UI
and the automation see it) and the run fails naming the file; the old table stays as it was, and downstream
assets stay held back (``all_deps_blocking_checks_passed``) until a good file arrives.

The checks can also run on their own (select only the checks): they then re-check the published table.
"""

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import dagster as dg

from cms_assets.defs.automation import on_sample_change
from cms_assets.defs.checks import check_results, checks_only, partition_check_specs
from cms_assets.defs.metadata import column_schema, parquet_preview
from cms_assets.defs.partitions import cms_sample
from cms_assets.defs.resources import StorageResource
from cms_assets.lib import layout
from cms_assets.lib.ingest.checks import WARN_CHECKS, CheckOutcome, checks_for
from cms_assets.lib.storage import Storage
from cms_assets.lib.synpuf.codebook import describe
from cms_assets.lib.synpuf.names import files_for_sample, sample_of_partition
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


def build_table_asset(spec: TableSpec) -> dg.AssetsDefinition:
    """One asset per table: same conversion path, its own checks; claims depend on the beneficiary table."""
    deps: list[dg.CoercibleToAssetDep] = ["raw_cms_zips"]
    if spec.kind is not Kind.BENEFICIARY:
        deps.append(TABLES[Kind.BENEFICIARY].name)  # referential check reads it
    check_specs = partition_check_specs(spec.name, dict(checks_for(spec)), warn=WARN_CHECKS)

    @dg.multi_asset(
        name=spec.name,
        specs=[
            dg.AssetSpec(
                spec.name,
                description=_DESCRIPTIONS[spec.kind],
                partitions_def=cms_sample,
                group_name="tables",
                kinds={"parquet", "pyarrow"},
                deps=deps,
                code_version="2",
                automation_condition=on_sample_change(),
                metadata={"dagster/column_schema": column_schema(spec.schema, describe)},
                skippable=True,
            )
        ],
        check_specs=check_specs,
        can_subset=True,
    )
    def _table(context: dg.AssetExecutionContext, storage: StorageResource) -> Iterator[object]:
        store = storage.get()
        sample = sample_of_partition(context.partition_key)
        pk = context.partition_key
        if checks_only(context, spec.name):
            yield from check_results(spec.name, pk, _run_checks(store, spec, sample, None), WARN_CHECKS)
            return
        yield from _convert_check_publish(context, store, spec, sample)

    return _table


def _convert_check_publish(
    context: dg.AssetExecutionContext, store: Storage, spec: TableSpec, sample: int
) -> Iterator[object]:
    """Convert into a staging file, check it, and publish it only when every blocking check passed."""
    from cms_assets.lib.ingest.convert import convert_table

    specs = [f for f in files_for_sample(sample) if f.kind is spec.kind]
    started = time.monotonic()
    key = layout.table_file(spec.name, sample)
    pk = context.partition_key
    with ExitStack() as stack:
        sources = [(f, stack.enter_context(store.open_read(layout.raw_zip(sample, f.zip_name)))) for f in specs]
        staged = stack.enter_context(store.writer(key))  # published when this block exits without error
        result = convert_table(spec, sources, sample, staged)
        outcomes = _run_checks(store, spec, sample, staged)
        failed = [n for n, o in outcomes.items() if not o.passed and n not in WARN_CHECKS]  # WARN: shown, kept
        if failed:
            yield from check_results(spec.name, pk, outcomes, WARN_CHECKS)
            details = "; ".join(outcomes[n].description for n in failed)
            raise dg.Failure(
                f"{spec.name} {pk}: blocking checks {', '.join(failed)} failed on the file converted from "
                f"{', '.join(store.uri(layout.raw_zip(sample, f.zip_name)) for f in specs)} ({details}); "
                f"nothing published, {store.uri(key)} is unchanged",
                metadata={"failed_checks": ", ".join(failed), "rows": result.rows},
            )
        digest = sha256_of(staged)
        bytes_out = staged.stat().st_size
        preview = parquet_preview(staged)
    context.log.info(f"{spec.name} {pk}: {result.rows:,} rows checked and published -> {store.uri(key)}")
    yield dg.MaterializeResult(
        asset_key=spec.name,
        data_version=dg.DataVersion(digest[:24]),
        metadata={
            "dagster/row_count": result.rows,
            "rows_per_file": dg.MetadataValue.json(result.rows_per_file),
            "bytes_in_csv": result.bytes_in,
            "bytes_out_parquet": bytes_out,
            "compression_ratio": round(result.bytes_in / max(bytes_out, 1), 2),
            "seconds": round(time.monotonic() - started, 2),
            "rows_per_second": round(result.rows / max(result.seconds, 1e-9)),
            "sha256": digest,
            "location": dg.MetadataValue.path(store.uri(key)),
            "preview": preview,
        },
    )
    yield from check_results(spec.name, pk, outcomes, WARN_CHECKS)


table_assets: list[dg.AssetsDefinition] = [build_table_asset(spec) for spec in TABLES.values()]
