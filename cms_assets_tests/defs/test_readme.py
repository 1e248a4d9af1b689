"""The README stays true: its two commands exist, CI runs the test one, and every variable the code reads is listed."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()

#: How code and config read the environment: dg.EnvVar("X"), env.get("X"), os.environ["X"], "X" in os.environ,
#: mapping values like {"field": "X"} (EMR_ENV), and dagster.yaml's `env: X`.
_PY_NAME = re.compile(r"\"((?:CMS|AWS|DAGSTER|PYSPARK)_[A-Z0-9_]+)\"")
_YAML_NAME = re.compile(r"env:\s*([A-Z][A-Z0-9_]+)")


def _variables_read() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "cms_assets").rglob("*.py"):
        found |= set(_PY_NAME.findall(path.read_text()))
    for path in [ROOT / "dagster.yaml", *(ROOT / "deploy").glob("*.yaml")]:
        found |= set(_YAML_NAME.findall(path.read_text()))
    return found


def _readme_table_variables() -> set[str]:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split(" | ")[0])}


def test_every_environment_variable_the_code_reads_is_in_the_readme_table() -> None:
    read = _variables_read()
    assert {"CMS_ASSETS_DATA", "CMS_WAREHOUSE_URL", "DAGSTER_PG_PASSWORD"} <= read  # the scan itself works
    missing = sorted(read - _readme_table_variables())
    assert not missing, f"add to the README's Configuration table: {missing}"


def test_first_lines_are_the_two_commands_and_ci_runs_the_test_one() -> None:
    block = README.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert ci[-1] == "make test"
