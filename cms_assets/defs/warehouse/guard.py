"""Safety across runs: a warehouse load never replaces a sample's rows from a source whose latest blocking check
failed, and never with zero rows unless the run's config allows it. Blocking checks stop steps inside a run; this
guard covers the runs that come later (a manual backfill, a retry, a load launched by hand)."""

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus


def failed_blocking_checks(context: dg.AssetExecutionContext, source: dg.AssetKey, checks: list[str]) -> list[str]:
    """Names of the source's blocking checks whose latest evaluation for this partition failed."""
    keys = [dg.AssetCheckKey(source, name) for name in checks]
    if not keys:
        return []
    infos = context.instance.event_log_storage.get_asset_check_partition_info(
        keys, partition_keys=[context.partition_key]
    )
    failed = AssetCheckExecutionRecordStatus.FAILED
    return sorted(i.check_key.name for i in infos if i.latest_execution_status == failed)


def refuse_unsafe_source(
    context: dg.AssetExecutionContext, source: dg.AssetKey, checks: list[str], rows: int, allow_empty: bool
) -> None:
    """Raise before anything in the warehouse is touched when the source is not fit to replace what is there."""
    failed = failed_blocking_checks(context, source, checks)
    if failed:
        raise dg.Failure(
            f"not loading {source.to_user_string()} {context.partition_key}: its latest blocking checks failed "
            f"({', '.join(failed)}); the warehouse keeps its current rows. Fix the source and re-materialize it."
        )
    if rows == 0 and not allow_empty:
        raise dg.Failure(
            f"not loading {source.to_user_string()} {context.partition_key}: the source has 0 rows, which would "
            "empty this sample in the warehouse; set allow_empty: true in the run config if that is intended."
        )
