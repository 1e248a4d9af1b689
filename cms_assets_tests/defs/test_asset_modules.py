"""Asset modules read top to bottom: no branch on where Spark runs (the engine decides, defs/ml/engine.py), and the
per-sample asset-with-checks setup written once (defs/checks.py), not restated in each module."""

from __future__ import annotations

import ast
from pathlib import Path

DEFS = Path(__file__).resolve().parents[2] / "cms_assets" / "defs"
#: Where the deployment's choices are made: the resources, their wiring, the IO managers and the Spark engines.
CHOOSERS = {"resources.py", "wiring.py", "io_managers.py", "deployment.py", "ml/engine.py"}


def _asset_modules() -> list[Path]:
    return [p for p in sorted(DEFS.rglob("*.py")) if str(p.relative_to(DEFS)) not in CHOOSERS]


def _mode_branches(tree: ast.AST) -> list[int]:
    """Lines that read ``<x>.mode`` or name a Spark mode ("emr-serverless", "connect" compared with something)."""
    lines = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "mode"]
    lines += [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value == "emr-serverless"]
    return lines


def _multi_asset_calls(tree: ast.AST) -> list[int]:
    """Lines calling ``dg.multi_asset`` or building check specs with ``check_specs=``."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "multi_asset":
                lines.append(node.lineno)
            lines += [node.lineno for kw in node.keywords if kw.arg == "check_specs"]
    return lines


def test_no_spark_mode_branch_in_an_asset_module() -> None:
    found = {str(p.relative_to(DEFS)): _mode_branches(ast.parse(p.read_text())) for p in _asset_modules()}
    offenders = {k: v for k, v in found.items() if v}
    assert not offenders, f"asset modules branching on the Spark mode (use defs/ml/engine.py): {offenders}"


def test_the_per_sample_asset_with_checks_setup_exists_once() -> None:
    found = {str(p.relative_to(DEFS)): _multi_asset_calls(ast.parse(p.read_text())) for p in _asset_modules()}
    assert {k for k, v in found.items() if v} == {"checks.py"}, found


def test_the_scans_see_what_they_look_for() -> None:
    assert _mode_branches(ast.parse('if spark.mode == "emr-serverless":\n    pass')) == [1, 1]
    assert _multi_asset_calls(ast.parse("dg.multi_asset(specs=[], check_specs=[])")) == [1, 1]
    assert "ml/features.py" in {str(p.relative_to(DEFS)) for p in _asset_modules()}
