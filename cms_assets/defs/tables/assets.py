"""The five typed Parquet tables per sample, converted from the raw zips, each with blocking checks."""

import time
from collections.abc import Iterator
from contextlib import ExitStack

import dagster as dg

from cms_assets.defs.metadata import column_schema, parquet_preview
from cms_assets.defs.partitions import cms_sample
from cms_assets.defs.resources import StorageResource
from cms_assets.lib import layout
from cms_assets.lib.ingest.checks import checks_for
from cms_assets.lib.synpuf.names import files_for_sample, sample_of_partition
from cms_assets.lib.synpuf.tables import TABLES, Kind, TableSpec

_DESCRIPTIONS = {
    Kind.BENEFICIARY: "One row per beneficiary and year (2008-2010) with demographics, conditions and annual amounts.",
    Kind.INPATIENT: "Inpatient claims 2008-2010, one row per claim segment.",
    Kind.OUTPATIENT: "Outpatient claims 2008-2010, one row per claim segment.",
    Kind.CARRIER: "Carrier (physician/supplier) claims 2008-2010, files A and B together.",
    Kind.PDE: "Prescription drug events 2008-2010.",
}


def build_table_asset(spec: TableSpec) -> dg.AssetsDefinition:
    """One asset per table: same conversion path, its own checks; claims depend on the beneficiary table."""
    check_names = [name for name, _ in checks_for(spec)]
    deps: list[dg.CoercibleToAssetDep] = ["raw_cms_zips"]
    if spec.kind is not Kind.BENEFICIARY:
        deps.append(TABLES[Kind.BENEFICIARY].name)  # referential check reads it

    @dg.asset(
        name=spec.name,
        description=_DESCRIPTIONS[spec.kind],
        partitions_def=cms_sample,
        group_name="tables",
        kinds={"parquet", "pyarrow"},
        deps=deps,
        code_version="1",
        check_specs=[dg.AssetCheckSpec(n, asset=spec.name, blocking=True) for n in check_names],
    )
    def _table(context: dg.AssetExecutionContext, storage: StorageResource) -> Iterator[object]:
        from cms_assets.lib.ingest.convert import convert_table

        store = storage.get()
        sample = sample_of_partition(context.partition_key)
        specs = [f for f in files_for_sample(sample) if f.kind is spec.kind]
        started = time.monotonic()
        key = layout.table_file(spec.name, sample)
        with ExitStack() as stack:
            sources = [(f, stack.enter_context(store.open_read(layout.raw_zip(sample, f.zip_name)))) for f in specs]
            out = stack.enter_context(store.writer(key))
            result = convert_table(spec, sources, sample, out)
            bytes_out = out.stat().st_size
        context.log.info(f"{spec.name} sample {sample}: {result.rows:,} rows -> {store.uri(key)}")
        with store.open_read(key) as f:
            sample_rows = parquet_preview(f)
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.rows,
                "dagster/column_schema": column_schema(spec.schema),
                "rows_per_file": dg.MetadataValue.json(result.rows_per_file),
                "bytes_in_csv": result.bytes_in,
                "bytes_out_parquet": bytes_out,
                "compression_ratio": round(result.bytes_in / max(bytes_out, 1), 2),
                "seconds": round(time.monotonic() - started, 2),
                "rows_per_second": round(result.rows / max(result.seconds, 1e-9)),
                "location": dg.MetadataValue.path(store.uri(key)),
                "preview": sample_rows,
            }
        )
        for name, check in checks_for(spec):
            outcome = check(store, spec, sample)
            yield dg.AssetCheckResult(
                check_name=name,
                passed=outcome.passed,
                description=outcome.description,
                metadata=outcome.metadata,
                severity=dg.AssetCheckSeverity.ERROR,
            )

    return _table


table_assets: list[dg.AssetsDefinition] = [build_table_asset(spec) for spec in TABLES.values()]
