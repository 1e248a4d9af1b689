"""Declarative Automation: how the graph refreshes itself once the sensor has downloaded a new or changed file.

Two conditions, both built from Dagster's own operands:

- :func:`on_sample_change` for per-sample assets fed by per-sample assets (tables, features, their warehouse
  loads): run a partition when it is new or when an upstream partition's *data version* changed (not merely
  re-materialized: unchanged files trigger nothing), or when an upstream is requested in the same tick (so a
  sample's five tables run in one run); never while an upstream is missing, running, or has a failed blocking
  check.
- :func:`after_wave` for what sits behind the all-samples model (the model, the predictions, their loads, the dbt
  staging models): the same triggers, but held until nothing upstream - transitively, through every sample - is
  running, was updated since the last tick or is about to be requested. Twenty samples arriving together therefore train
  the model once, after the last sample's features, and re-score each sample once, with that model.
- :func:`with_its_inputs` for the dbt models below staging and the report: they join the run of their inputs, so a
  wave's analyst layer and report are one run.
"""

from __future__ import annotations

import dagster as dg

AC = dg.AutomationCondition

#: How far :func:`after_wave` looks upstream by default: more than the longest chain above the wave's assets (raw ->
#: tables -> features -> model -> predictions -> warehouse load), so "anything upstream" reaches the site files; the
#: nesting ends where the graph does.
GRAPH_DEPTH = 8
#: How far the staging models look upstream for a wave still in progress (see :func:`dbt_model`): four hops reach
#: a sample's download from a staging model through the wave's last loads (predictions <- scores <- features <-
#: tables <- raw zips).
ANALYST_DEPTH = 4


def _upstream(condition: dg.AutomationCondition, depth: int = GRAPH_DEPTH) -> dg.AutomationCondition:
    """True when any asset up to ``depth`` hops upstream matches ``condition``."""
    nested = AC.any_deps_match(condition)
    for _ in range(depth - 1):
        nested = AC.any_deps_match(condition | nested)
    return nested


def _changed(*, same_run: bool, only: list[dg.AssetKey] | None = None) -> dg.AutomationCondition:
    """An upstream's data version changed since the last tick (or, with ``same_run``, it is requested now)."""
    # A parent updated by a run that also targeted this asset was already handled by that run (as in eager()).
    updated = AC.data_version_changed() & ~AC.executed_with_root_target()
    changed = updated | AC.will_be_requested() if same_run else updated
    deps = AC.any_deps_match(changed)
    if only is not None:
        deps = deps.allow(dg.AssetSelection.assets(*only))
    return deps


def _gates(checked: dg.AutomationCondition | None = None) -> dg.AutomationCondition:
    """Every upstream present, none running, this asset not running, and ``checked`` (by default: every upstream's
    blocking checks passed or requested in this tick)."""
    checked = AC.all_deps_blocking_checks_passed() if checked is None else checked
    return ~AC.any_deps_missing() & ~AC.any_deps_in_progress() & ~AC.in_progress() & checked


def _since_handled(changed: dg.AutomationCondition) -> dg.AutomationCondition:
    """``changed`` since the asset was last requested or updated, or the asset missing on the first evaluation
    (automation switched on over existing data). The first evaluation resets since_last_handled, so "missing when
    switched on" stands outside it."""
    return changed.since_last_handled() | (AC.missing() & AC.initial_evaluation())


def on_sample_change() -> dg.AutomationCondition:
    """Per-sample refresh: new partition or changed upstream data, with every upstream present and checked."""
    trigger = (AC.newly_missing() | _changed(same_run=True)).since_last_handled()
    return (trigger & _gates()).with_label("on_sample_change")


def after_wave(
    triggered_by: list[dg.AssetKey] | None = None, new_partitions: bool = True, depth: int = GRAPH_DEPTH
) -> dg.AutomationCondition:
    """Refresh once the wave upstream has settled: changed upstream data (optionally only from ``triggered_by``),
    nothing upstream running, updated since the last tick or about to run, every upstream present and checked.

    "Updated since the last tick" stands in for "about to run" across partitionings: Dagster's
    ``will_be_requested`` only sees requests that could share this asset's run, so a per-sample refresh requested
    in this very tick is invisible here; its parent's fresh update is not, and holds the wave one tick longer.
    ``new_partitions=False`` (predictions) leaves new samples to the retrain they cause. An asset found missing
    on the automation's first evaluation (switched on over existing data) is built too.
    """
    changed = _changed(same_run=False, only=triggered_by)
    if new_partitions:
        changed = AC.newly_missing() | changed
    trigger = _since_handled(changed)
    settled = ~_upstream(AC.in_progress() | AC.will_be_requested() | AC.newly_updated(), depth)
    return (trigger & settled & _gates()).with_label("after_wave")


def dbt_model(layer: str) -> dg.AutomationCondition:
    """The analyst layer, once per wave and in one run: the staging models (which also depend on the wave's last
    loads, defs/transform) wait for the whole wave to settle; every model below joins the tick its inputs are
    requested in (:func:`with_its_inputs`), so one ``dbt build`` rebuilds the layer instead of one run per layer."""
    if layer == "staging":
        return after_wave(depth=ANALYST_DEPTH).with_label("dbt_wave")
    return with_its_inputs()


def with_its_inputs() -> dg.AutomationCondition:
    """Requested in the same tick as any of its parents, so it rides in their run (dbt models below staging, the
    report); built alone only when new (a model file added to the project, or automation switched on over a
    warehouse without it). A parent requested in this tick counts as checked: its blocking checks run in that same
    run, and a failing one stops this asset there (dbt's build order, and Dagster's for a Python child)."""
    trigger = _since_handled(AC.newly_missing() | AC.any_deps_match(AC.will_be_requested()))
    checked = AC.all_deps_match(
        AC.will_be_requested() | AC.all_checks_match(AC.check_passed(), blocking_only=True)
    ).with_label("all_deps_checked_or_requested")
    return (trigger & _gates(checked)).with_label("with_its_inputs")


def with_its_asset() -> dg.AutomationCondition:
    """For a check: requested whenever its asset is, so a downstream asset that waits for the check
    (``all_deps_blocking_checks_passed``) can join the same run and be stopped there if the check fails."""
    return AC.any_deps_match(AC.will_be_requested()).with_label("with_its_asset")


def automation_sensor(minimum_interval_seconds: int = 30) -> dg.AutomationConditionSensorDefinition:
    """Evaluates every asset's automation condition; on by default, so switching on the CMS sensor (or
    materializing raw_cms_zips by hand) is all a user does. Built where the definitions are assembled, with the
    deployment's interval."""
    return dg.AutomationConditionSensorDefinition(
        "cms_automation",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=minimum_interval_seconds,
        # Runs per sample, never a backfill: when two samples are requested in one tick, a backfill takes the
        # assets and leaves their partitioned checks to runs of their own, which then check files not yet built.
        emit_backfills=False,
        description="Declarative Automation for the whole graph: per-sample refreshes and once-per-wave retrains.",
    )
