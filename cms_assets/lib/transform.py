"""The dbt project of the analyst layer (``cms_assets/transform``) and how to point it at the warehouse.

The profile (``transform/profiles.yml``) reads ``CMS_DBT_*`` variables; :func:`dbt_env` derives them from the
warehouse URL the rest of the platform uses (``CMS_WAREHOUSE_URL``). The password travels only as
``DBT_ENV_SECRET_CMS_PASSWORD`` in the environment of the dbt process (dbt scrubs ``DBT_ENV_SECRET_*`` values from its
logs); it is never written to a file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl

import sqlalchemy as sa

PROJECT_DIR = Path(__file__).resolve().parents[1] / "transform"
PASSWORD_VAR = "DBT_ENV_SECRET_CMS_PASSWORD"
#: dbt targets by warehouse URL scheme (profiles.yml has one output per target).
TARGETS = {"duckdb": "duckdb", "postgresql": "postgres", "redshift": "redshift"}
#: Schemas of the dbt layers, as dbt names them: ``<warehouse schema>_<layer>``.
LAYERS = ("staging", "intermediate", "marts")


def layer_schema(schema: str, layer: str) -> str:
    """The schema dbt builds a layer's models in (dbt's default ``generate_schema_name``)."""
    return f"{schema}_{layer}"


def dbt_env(url: str, schema: str, duckdb_memory_limit: str = "2GB") -> dict[str, str]:
    """The environment variables profiles.yml reads, for the warehouse at ``url``."""
    env = {"CMS_DBT_SCHEMA": schema}
    if url.startswith("duckdb:///"):
        path, _, query = url[len("duckdb:///") :].partition("?")
        options = dict(parse_qsl(query))
        env |= {
            "CMS_DBT_TARGET": "duckdb",
            "CMS_DBT_DUCKDB_PATH": os.path.abspath(path),
            "CMS_DBT_DUCKDB_MEMORY_LIMIT": options.get("memory_limit", duckdb_memory_limit),
        }
        return env
    try:
        parsed = sa.make_url(url)
    except Exception:
        raise ValueError("could not parse the warehouse URL (not shown: it may hold a password)") from None
    backend = parsed.get_backend_name()
    if backend not in TARGETS:
        raise ValueError(f"dbt has no target for warehouse {parsed.render_as_string(hide_password=True)!r}")
    env |= {
        "CMS_DBT_TARGET": TARGETS[backend],
        "CMS_DBT_HOST": parsed.host or "localhost",
        "CMS_DBT_PORT": str(parsed.port or (5439 if backend == "redshift" else 5432)),
        "CMS_DBT_USER": parsed.username or "",
        "CMS_DBT_DBNAME": parsed.database or "",
        PASSWORD_VAR: parsed.password or "",
    }
    return env


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in this process's environment for the block (dagster-dbt passes os.environ to dbt)."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def dbt_executable() -> str:
    """The dbt CLI installed beside this interpreter (the venv need not be activated, so it may not be on PATH)."""
    return str(Path(sys.executable).with_name("dbt"))


def dbt_command(args: Sequence[str], project_dir: Path = PROJECT_DIR) -> list[str]:
    """The dbt CLI of this interpreter's environment, on the project, with the project's profiles.yml."""
    return [dbt_executable(), *args, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]


def run_dbt(
    args: Sequence[str], url: str, schema: str, project_dir: Path = PROJECT_DIR, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the dbt CLI against the warehouse at ``url`` (for the CLI, tests and benchmarks; Dagster uses
    dagster-dbt's resource with the same environment)."""
    env = {**os.environ, **dbt_env(url, schema), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return subprocess.run(
        dbt_command(args, project_dir), env=env, cwd=project_dir, text=True, capture_output=True, check=check
    )


def ensure_manifest(project_dir: Path = PROJECT_DIR, target_path: str = "target") -> Path:
    """``dbt parse`` when the manifest is stale; return its path. Processes loading the definitions at once (the
    daemon, the webserver, run workers) take turns through a file lock, and only the first one parses."""
    import fcntl

    manifest = project_dir / target_path / "manifest.json"
    if not manifest_is_stale(project_dir, target_path):
        return manifest
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest_is_stale(project_dir, target_path):
            env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_TARGET_PATH": target_path}
            done = subprocess.run(
                dbt_command(["parse", "--quiet"], project_dir), env=env, cwd=project_dir, text=True, capture_output=True
            )
            if done.returncode != 0:
                raise RuntimeError(f"dbt parse of {project_dir} failed:\n{done.stdout[-4000:]}{done.stderr[-2000:]}")
    return manifest


def manifest_is_stale(project_dir: Path = PROJECT_DIR, target_path: str = "target") -> bool:
    """True when the manifest is missing or older than a file dbt parses (a model added, a yml edited)."""
    manifest = project_dir / target_path / "manifest.json"
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        sources += [p for p in (project_dir / folder).rglob("*") if p.suffix in (".sql", ".yml", ".yaml")]
    return any(p.stat().st_mtime > built for p in sources if p.exists())
