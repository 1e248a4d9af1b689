"""Per-sample assets with checks, shared by the asset definitions: the decorator (:func:`sample_asset`: one spec
partitioned by sample with its partitioned checks), check specs from plain check functions, results with the
partition in their metadata, and the body (:func:`build_or_recheck`: build, or in a run that selected only the
checks, re-check what is published)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

import dagster as dg

from cms_assets.defs.automation import with_its_asset
from cms_assets.defs.partitions import cms_sample
from cms_assets.defs.provenance import BUILT_FROM, already_built, upstream_versions
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


def sample_asset(
    key: str | list[str],
    *,
    description: str,
    group: str,
    kinds: set[str],
    deps: Iterable[dg.CoercibleToAssetDep],
    automation: dg.AutomationCondition,
    checks: Mapping[str, Callable[..., CheckOutcome]],
    warn: AbstractSet[str] = frozenset(),
    automated_checks: bool = True,
    metadata: Mapping[str, Any] | None = None,
    io_manager_key: str | None = None,
    code_version: str = "1",
    **multi_asset: Any,
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """The decorator of a per-sample asset and its checks: one spec partitioned by sample, skippable (a run may
    select only the checks), subsettable, with the checks of :func:`partition_check_specs`; ``multi_asset`` passes
    on (``ins``, ``pool``). The op is named after the key (``warehouse/x`` -> ``warehouse__x``)."""
    asset_key = dg.AssetKey(key)
    spec = dg.AssetSpec(
        asset_key,
        description=description,
        partitions_def=cms_sample,
        group_name=group,
        kinds=kinds,
        deps=list(deps),
        code_version=code_version,
        automation_condition=automation,
        metadata=dict(metadata or {}),
        skippable=True,
    )
    return dg.multi_asset(
        name="__".join(asset_key.path),
        specs=[spec.with_io_manager_key(io_manager_key) if io_manager_key else spec],
        check_specs=partition_check_specs(asset_key.path, checks, warn, automated_checks),
        can_subset=True,
        **multi_asset,
    )


def build_or_recheck(
    context: dg.AssetExecutionContext,
    asset: str | list[str],
    build: Callable[[], Iterator[Any]],
    recheck: Callable[[], Mapping[str, CheckOutcome]],
    warn: AbstractSet[str] = frozenset(),
) -> Iterator[Any]:
    """The body of a :func:`sample_asset`: ``build()`` (the materialization and its check results), or, in a run
    that selected the checks but not the asset, the checks re-run on what is published (``recheck()``).

    An automation run asked to rebuild a partition from exactly what it was last built from (same code, same data
    version of every upstream: :func:`~cms_assets.defs.provenance.already_built`) re-checks what is published
    and, if every blocking check passes, records it again with its old data version instead of rebuilding, so
    nothing downstream sees a change."""
    key = dg.AssetKey(asset)
    if key not in context.selected_asset_keys:
        yield from check_results(asset, context.partition_key, recheck(), warn)
        return
    upstream = upstream_versions(context, key)
    built = already_built(context, key, upstream)
    outcomes = recheck() if built is not None else {}
    if built is None or any(not o.passed for name, o in outcomes.items() if name not in warn):
        context.add_asset_metadata({BUILT_FROM: dg.MetadataValue.json(upstream)}, asset_key=key)
        yield from build()
        return
    context.log.info(f"{key.to_user_string()} {context.partition_key}: unchanged since run {built.run_id}, re-checked")
    yield dg.MaterializeResult(
        asset_key=key,
        data_version=dg.DataVersion(built.data_version),
        metadata={**built.metadata, "unchanged_since_run": built.metadata.get("unchanged_since_run", built.run_id)},
    )
    yield from check_results(asset, context.partition_key, outcomes, warn)
