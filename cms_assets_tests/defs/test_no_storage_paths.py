"""The storage layout lives in the IO managers: no asset module under ``defs/`` builds a storage path.

Checked on the source (AST): outside ``io_managers.py`` (the layout's one user in Dagster code) and
``resources.py`` (which hands the EMR job its storage root), no ``defs/`` module imports
:mod:`cms_assets.lib.layout`, calls one of its path builders, or holds a string that looks like a storage key.
"""

import ast
from pathlib import Path

import cms_assets.defs
from cms_assets.lib import layout

DEFS = Path(cms_assets.defs.__file__).parent
ALLOWED = {"io_managers.py", "resources.py"}
#: Fragments of every storage key the layout makes (``sample=NN`` folders, the top-level prefixes, part files).
KEY_FRAGMENTS = ("sample=", ".parquet", "part-", *(f"{p.split('/')[0]}/" for p in (
    layout.RAW, layout.TABLES, layout.FEATURES, layout.PREDICTIONS, layout.MODELS, layout.REPORTS)))  # fmt: skip


def _modules() -> list[Path]:
    return sorted(p for p in DEFS.rglob("*.py") if p.name not in ALLOWED)


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(DEFS.parent)}:{getattr(node, 'lineno', '?')}"
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and "layout" in (node.module.split(".") + [a.name for a in node.names])
        ):
            found.append(f"{where} imports the layout")
        elif isinstance(node, ast.Import) and any(a.name.endswith("layout") for a in node.names):
            found.append(f"{where} imports the layout")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "layout":
            found.append(f"{where} uses layout.{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            hits = [f for f in KEY_FRAGMENTS if f in node.value and not node.value.strip().startswith(("|", "\n"))]
            if hits and "\n" not in node.value:  # docstrings may describe the layout; code may not build it
                found.append(f"{where} holds a storage key fragment {hits} in {node.value!r}")
    return found


def test_no_asset_module_builds_a_storage_path() -> None:
    modules = _modules()
    assert len(modules) > 10 and any(p.name == "assets.py" for p in modules)
    offences = [o for p in modules for o in _offences(p)]
    assert offences == [], "\n".join(offences)


def test_the_check_catches_a_path_builder(tmp_path: Path) -> None:
    """The scan is not vacuous: a module that builds a key the old way is caught, each way."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from cms_assets.lib import layout\n"
        "def f(store, sample):\n"
        "    return store.uri(layout.features_dir(sample)), f'tables/x/sample={sample:02d}/part-0.parquet'\n"
    )
    offences = _offences_at(bad)
    assert any("imports the layout" in o for o in offences)
    assert any("layout.features_dir" in o for o in offences)
    assert any("storage key fragment" in o for o in offences)


def _offences_at(path: Path) -> list[str]:
    global DEFS
    saved, DEFS = DEFS, path.parent
    try:
        return _offences(path)
    finally:
        DEFS = saved
