"""Whether an automation run is about to rebuild a sample's partition from exactly what it was last built from.

Declarative Automation can request a partition that its own previous run already brought up to date: Dagster's
``executed_with_root_target`` looks only at an asset's latest materialization across *all* partitions, so when two
samples' runs overlap, the parent update of one sample counts as new for its child (issue 20). Each build records
in its materialization what the partition was built from (every upstream's data version for that sample; the code
version is Dagster's own tag), so a run launched by the automation compares that with the upstreams' current data
versions and, when nothing changed, re-checks what is published instead of rebuilding it. Runs a person launches
always rebuild.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

#: Set by Dagster on every run the automation condition sensor launches.
AUTOMATION_RUN_TAG = "dagster/from_automation_condition"
_DATA_VERSION_TAG = "dagster/data_version"
_CODE_VERSION_TAG = "dagster/code_version"
#: Materialization metadata: the upstream data versions a partition was built from (:func:`upstream_versions`).
BUILT_FROM = "built_from"


@dataclass(frozen=True)
class Built:
    """The partition's latest materialization: the run that made it, its data version and its metadata."""

    run_id: str
    data_version: str
    metadata: Mapping[str, Any]


def upstream_versions(context: dg.AssetExecutionContext, key: dg.AssetKey) -> dict[str, str | None]:
    """The current data version of every upstream of ``key``'s partition: the same sample's partition of a
    per-sample upstream, the latest materialization of a whole-graph one (None: never materialized)."""
    graph = context.job_def.asset_layer.asset_graph
    versions: dict[str, str | None] = {}
    for dep in sorted(graph.get(key).parent_keys):
        partition = context.partition_key if graph.get(dep).partitions_def is not None else None
        record = context.instance.get_latest_data_version_record(dep, is_source=False, partition_key=partition)
        tags = (record.asset_materialization.tags or {}) if record and record.asset_materialization else {}
        versions[dep.to_user_string()] = tags.get(_DATA_VERSION_TAG)
    return versions


def already_built(
    context: dg.AssetExecutionContext, key: dg.AssetKey, upstream: Mapping[str, str | None]
) -> Built | None:
    """The latest materialization of ``key``'s partition when this run was launched by the automation and that
    materialization was built by the same code version from ``upstream`` (recorded as ``built_from``, see
    :func:`upstream_versions`); otherwise None.

    Dagster's own provenance tags are not enough here: they hold a partitioned upstream's version in an internal
    hashed form, and for an upstream without an input (or with very many partitions) the version of its latest
    materialization across all partitions; ``built_from`` is the plain per-sample record."""
    if context.run.tags.get(AUTOMATION_RUN_TAG) != "true" or any(v is None for v in upstream.values()):
        return None
    record = context.instance.get_latest_data_version_record(key, is_source=False, partition_key=context.partition_key)
    if record is None or record.asset_materialization is None:
        return None
    materialization = record.asset_materialization
    tags, metadata = materialization.tags or {}, materialization.metadata
    built_from = metadata.get(BUILT_FROM)
    if (
        tags.get(_CODE_VERSION_TAG) != context.assets_def.code_versions_by_key.get(key)
        or _DATA_VERSION_TAG not in tags
        or built_from is None
        or built_from.value != dict(upstream)
    ):
        return None
    return Built(record.run_id, tags[_DATA_VERSION_TAG], metadata)
