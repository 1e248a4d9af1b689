"""Asset checks per partition, shared by the asset definitions: specs from plain check functions, results with
the partition in their metadata, and the "checks only" case (a run that selected the checks, not the asset)."""

import warnings
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet

import dagster as dg

from cms_assets.defs.automation import with_its_asset
from cms_assets.defs.partitions import cms_sample
from cms_assets.lib.ingest.checks import CheckOutcome


def partition_check_specs(
    asset: str | list[str],
    checks: Mapping[str, Callable[..., CheckOutcome]],
    warn: AbstractSet[str] = frozenset(),
    automated: bool = True,
) -> list[dg.AssetCheckSpec]:
    """One partitioned check spec per function, blocking unless named in ``warn``; the function's docstring is
    its description. ``automated`` checks are requested with their asset (see ``with_its_asset``); without it
    they still run in every run of their asset, but Declarative Automation never requests them on their own.

    Partitioned check specs are a Dagster preview feature; we use them knowingly (results per sample in the UI
    and in the automation's blocking-check gate), so their warning is silenced here only.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _specs(asset, checks, warn, automated)


def _specs(
    asset: str | list[str], checks: Mapping[str, Callable[..., CheckOutcome]], warn: AbstractSet[str], automated: bool
) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            name,
            asset=dg.AssetKey(asset),
            blocking=name not in warn,
            partitions_def=cms_sample,
            automation_condition=with_its_asset() if automated else None,
            description=(fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else None,
        )
        for name, fn in checks.items()
    ]


def check_results(
    asset: str | list[str], partition: str, outcomes: Mapping[str, CheckOutcome], warn: AbstractSet[str] = frozenset()
) -> Iterator[dg.AssetCheckResult]:
    """Results with the partition in their metadata; WARN severity for the checks named in ``warn`` (what the
    data is, shown without blocking), ERROR for the rest."""
    for name, outcome in outcomes.items():
        yield dg.AssetCheckResult(
            asset_key=dg.AssetKey(asset),
            check_name=name,
            passed=outcome.passed,
            description=outcome.description,
            metadata={**outcome.metadata, "partition": partition},
            severity=dg.AssetCheckSeverity.WARN if name in warn else dg.AssetCheckSeverity.ERROR,
        )


def checks_only(context: dg.AssetExecutionContext, asset: str | list[str]) -> bool:
    """True when the run selected this asset's checks but not the asset: re-check what is published."""
    return dg.AssetKey(asset) not in context.selected_asset_keys
