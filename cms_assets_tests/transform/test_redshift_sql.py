"""Redshift check of the dbt project without a Redshift cluster.

``dbt compile --target redshift`` renders every model with dbt-redshift's own macros (``datediff(day, a, b)``,
``dateadd``, types). By default it also opens a connection to fill the relation cache and lets models run
introspective queries; ``--no-populate-cache --no-introspect`` turns both off, and the profile points at a closed
port on 127.0.0.1, so a connection attempt would fail the compile rather than pass silently. The compiled SQL is then
parsed with sqlglot's ``redshift`` dialect (error level raise). sqlglot is lenient (it accepts many constructs
Redshift would reject at run time, e.g. unknown functions), so this catches syntax, not semantics; the negative
control proves it catches at least a DuckDB-only operator.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from cms_assets.lib.transform import PROJECT_DIR, run_dbt
from cms_assets_tests.fixtures.procs import free_port

# No cluster listens there; the password is a dummy that dbt scrubs from its logs.
OFFLINE_COMPILE = ["compile", "--no-populate-cache", "--no-introspect"]


def redshift_url() -> str:
    return f"redshift+psycopg2://offline:dummy-not-a-secret@127.0.0.1:{free_port()}/dev"


def compile_for_redshift(project_dir: Path, workdir: Path) -> Path:
    """Compile the project (models and data tests, which run as Dagster checks) for Redshift offline; return the
    folder of the compiled project."""
    args = [*OFFLINE_COMPILE, "--target-path", str(workdir / "target"), "--log-path", str(workdir / "logs")]
    result = run_dbt(args, redshift_url(), "cms", project_dir=project_dir, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "target='redshift'" in result.stdout
    return workdir / "target" / "compiled" / "cms_assets"


def compiled_models(compiled: Path) -> list[Path]:
    """The compiled models (generic tests compile into folders named after their yml file)."""
    return [p for p in (compiled / "models").rglob("*.sql") if p.parent.suffix != ".yml"]


def redshift_syntax_errors(compiled: Path) -> dict[str, str]:
    """File name -> sqlglot's error, for every compiled model or test that does not parse as Redshift SQL."""
    errors = {}
    for path in sorted(compiled.rglob("*.sql")):
        try:
            sqlglot.parse_one(path.read_text(), read="redshift", error_level=ErrorLevel.RAISE)
        except sqlglot.errors.ParseError as e:
            errors[path.name] = str(e).splitlines()[0]
    return errors


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_for_redshift(PROJECT_DIR, tmp_path_factory.mktemp("redshift"))


def test_every_model_compiles_offline_and_parses_as_redshift(compiled: Path) -> None:
    models = {p.stem for p in (PROJECT_DIR / "models").rglob("*.sql")}
    assert {p.stem for p in compiled_models(compiled)} == models
    assert len(list(compiled.rglob("*.sql"))) > len(models) + 100  # the data tests are checked too
    assert redshift_syntax_errors(compiled) == {}


def test_redshift_macros_are_used(compiled: Path) -> None:
    """The compiled SQL is Redshift's, not DuckDB's: dbt.datediff renders as Redshift's datediff(day, ...)."""
    stays = (compiled / "models" / "intermediate" / "int_inpatient_stays.sql").read_text()
    assert "datediff(" in stays and "day," in stays
    assert "date_diff(" not in stays and "::" not in stays


def test_negative_control_a_duckdb_only_model_fails_the_check(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", ".user.yml"))
    # DuckDB's integer division operator `//` (valid in DuckDB, a syntax error in Redshift).
    (project / "models" / "marts" / "duckdb_only.sql").write_text(
        "select\n    member_months // 12 as member_years\nfrom {{ ref('int_member_months') }}\n"
    )
    errors = redshift_syntax_errors(compile_for_redshift(project, tmp_path / "work"))
    assert list(errors) == ["duckdb_only.sql"], errors


def test_the_negative_control_is_valid_duckdb() -> None:
    import duckdb

    assert duckdb.sql("select 30 // 12").fetchall() == [(2,)]
