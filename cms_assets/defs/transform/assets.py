"""The analyst layer: every dbt model of ``cms_assets/transform`` is an asset, every dbt test an asset check.

Keys are ``<layer>/<model>`` (``staging/stg_inpatient_claims``, ``marts/readmissions``) in a group per layer;
sources map to the warehouse loads and reference tables through ``meta.dagster.asset_key`` in ``_sources.yml``.
Tests of severity ``error`` are blocking checks, so a failed test holds back the report.
"""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from cms_assets.defs.automation import dbt_model
from cms_assets.defs.kinds import WAREHOUSE
from cms_assets.defs.resources import WarehouseResource
from cms_assets.defs.transform.project import dbt_project, prepare
from cms_assets.lib.transform import dbt_env, environment


def layer_of(props: Mapping[str, Any]) -> str:
    """The model's layer: the first folder of its path in the dbt project (staging, intermediate, marts)."""
    fqn = props.get("fqn", [])
    return fqn[1] if len(fqn) > 2 else "models"


#: The last loads of a wave. Every staging model also waits for them (a Dagster dependency, not a dbt one), so the
#: analyst layer is rebuilt as one consistent snapshot once the wave has settled; without it, models fed only by
#: the claims would be rebuilt while the model still trains, and again after the predictions.
WAVE_END = [dg.AssetKey(["warehouse", "cost_predictions"]), dg.AssetKey(["warehouse", "model_metrics"])]


class AnalyticsTranslator(DagsterDbtTranslator):
    """Keys and groups by layer; automation once per wave (the staging models wait for the wave's last loads, the
    layers below follow as their inputs change)."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = manifest["nodes"].get(unique_id) or {}
        if props.get("resource_type") == "model" and layer_of(props) == "staging":
            wave_end = [dg.AssetDep(k) for k in WAVE_END if k not in {d.asset_key for d in spec.deps}]
            spec = spec.replace_attributes(deps=[*spec.deps, *wave_end])
        # dbt, in the deployment's warehouse (not the adapter the manifest was parsed with).
        tags = {k: v for k, v in spec.tags.items() if not k.startswith("dagster/kind/")}
        return spec.replace_attributes(tags=tags, kinds={"dbt", WAREHOUSE})

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey([layer_of(dbt_resource_props), dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return layer_of(dbt_resource_props)

    def get_automation_condition(self, dbt_resource_props: Mapping[str, Any]) -> dg.AutomationCondition | None:
        return dbt_model(layer_of(dbt_resource_props))


def build_analytics(project: DbtProject) -> dg.AssetsDefinition:
    """The dbt multi-asset of ``project`` (the repo's own, or a copy in a test), its manifest prepared first."""

    @dbt_assets(
        manifest=prepare(project).manifest_path,
        project=project,
        dagster_dbt_translator=AnalyticsTranslator(DagsterDbtTranslatorSettings(enable_asset_checks=True)),
        name="analytics",
        pool="warehouse",
    )
    def analytics(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ) -> Iterator[Any]:
        """Builds and tests the selected dbt models on this deployment's warehouse (``dbt build``)."""
        # "buildable": a test runs when the model it tests is built and its other parents are built or upstream,
        # so a subset (the reference tables' staging views alone) never runs a test of a model not yet built.
        env = {**dbt_env(warehouse.url, warehouse.schema_name), "DBT_INDIRECT_SELECTION": "buildable"}
        with environment(env):
            yield from dbt.cli(["build"], context=context).stream()

    return analytics


analytics = build_analytics(dbt_project)
