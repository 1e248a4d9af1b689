"""A snapshot of every asset spec per deployment (as Dagster's own open platform keeps): key, group, kinds, owners,
tags, dependencies, partitions, automation condition and checks. A change to the graph then shows in review as a
diff of ``snapshots/asset_specs_<deployment>.json`` instead of passing unseen.

After an intended change, rewrite the snapshots and commit them with the change::

    UPDATE_SNAPSHOTS=1 .venv/bin/pytest cms_assets_tests/defs/test_asset_specs_snapshot.py
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_shared.serdes import serialize_value

from cms_assets.definitions import build_definitions
from cms_assets.defs.kinds import PLACEHOLDERS

SNAPSHOTS = Path(__file__).parent / "snapshots"
#: One environment per deployment, as its users set it (no secret is real; the URL is read for its scheme only).
DEPLOYMENTS: dict[str, dict[str, str]] = {
    "local": {},
    "test": {"CMS_WAREHOUSE_URL": "postgresql+psycopg2://u:not-a-secret@h:5432/db"},
    "production": {
        "CMS_WAREHOUSE_URL": "redshift+psycopg2://u:not-a-secret@h:5439/db",
        "CMS_EMR_APPLICATION_ID": "00abc",
        "CMS_EMR_JOB_ROLE_ARN": "arn:aws:iam::123456789012:role/emr",
        "CMS_EMR_ENTRY_POINT_S3": "s3://code/cms/emr_entry.py",
    },
}


def _condition(condition: dg.AutomationCondition | None) -> dict[str, str] | None:
    """The condition's label and a fingerprint of its whole serialized tree (any change beneath the label changes
    it)."""
    if condition is None:
        return None
    fingerprint = hashlib.sha256(serialize_value(condition).encode()).hexdigest()[:16]
    return {"label": condition.get_label() or type(condition).__name__, "tree": fingerprint}


def _partitions(spec: dg.AssetSpec) -> str | None:
    pdef = spec.partitions_def
    if pdef is None:
        return None
    return f"{type(pdef).__name__}:{getattr(pdef, 'name', '') or ''}"


def spec_snapshot(deployment: str) -> dict[str, Any]:
    """Every asset of ``deployment``'s definitions, by key, with what a reviewer of the graph should see."""
    defs = build_definitions(deployment, DEPLOYMENTS[deployment])
    graph = defs.resolve_asset_graph()
    checks: dict[dg.AssetKey, list[str]] = {}
    for check_key in graph.asset_check_keys:
        blocking = graph.get_check_spec(check_key).blocking
        checks.setdefault(check_key.asset_key, []).append(f"{check_key.name}{' (blocking)' if blocking else ''}")
    out: dict[str, Any] = {}
    for spec in sorted(defs.resolve_all_asset_specs(), key=lambda s: s.key.to_user_string()):
        out[spec.key.to_user_string()] = {
            "group": spec.group_name,
            "kinds": sorted(spec.kinds),
            "owners": sorted(spec.owners),
            "tags": {k: v for k, v in sorted(spec.tags.items()) if not k.startswith("dagster/kind/")},
            "deps": sorted(d.asset_key.to_user_string() for d in spec.deps),
            "partitions": _partitions(spec),
            "automation": _condition(spec.automation_condition),
            "checks": sorted(checks.get(spec.key, [])),
        }
    return out


@pytest.mark.parametrize("deployment", sorted(DEPLOYMENTS))
def test_asset_specs_match_the_snapshot(deployment: str) -> None:
    path = SNAPSHOTS / f"asset_specs_{deployment}.json"
    current = json.dumps(spec_snapshot(deployment), indent=1, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(current)
    assert path.exists(), f"no snapshot for {deployment}: run with UPDATE_SNAPSHOTS=1 and commit {path.name}"
    stored = path.read_text()
    diff = "".join(
        difflib.unified_diff(stored.splitlines(True), current.splitlines(True), "snapshot", "definitions", n=2)
    )
    assert not diff, f"the {deployment} asset graph changed; if intended, UPDATE_SNAPSHOTS=1 (see docstring):\n{diff}"


def test_the_snapshot_sees_a_change() -> None:
    """The comparison is not vacuous: the three deployments differ where they should (kinds), and every asset
    carries a group and an owner."""
    local, production = spec_snapshot("local"), spec_snapshot("production")
    assert local.keys() == production.keys()
    assert local["marts/readmissions"]["kinds"] == ["dbt", "duckdb"]
    assert production["marts/readmissions"]["kinds"] == ["dbt", "redshift"]
    assert "emr" in production["beneficiary_features"]["kinds"] and "emr" not in local["beneficiary_features"]["kinds"]
    assert all(v["group"] and v["owners"] for v in local.values())
    trees = {v["automation"]["label"]: v["automation"]["tree"] for v in local.values() if v["automation"]}
    assert len(set(trees.values())) == len(trees) >= 4  # each condition has its own fingerprint
    shown = {k for snapshot in (local, production) for v in snapshot.values() for k in v["kinds"]}
    assert not shown & set(PLACEHOLDERS), "a placeholder kind reached the catalog"
