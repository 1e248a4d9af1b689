"""``cms-assets dev`` (``make dev``): ``dg dev`` on the demo's DAGSTER_HOME, with the demo's CMS site served.

After ``make demo`` the instance, the data and the sensor's cursor belong to the demo's synthetic site. Starting
the UI against cms.gov would mix real samples into them, so when ``<data>/cms_site`` exists the mirror is served on
the demo's ports and the code location points at it; ``--source cms.gov`` with demo data is refused.
"""

from __future__ import annotations

import os
import subprocess
from contextlib import ExitStack
from pathlib import Path


def run_dev(data: Path, home: Path, source: str = "auto") -> int:
    from cms_assets.daemon import ROOT, _bin, prepare_home
    from cms_assets.demo import DEMO_PORT, demo_env

    data = data.resolve()
    site = data / "cms_site"
    use_demo = source == "demo" or (source == "auto" and site.is_dir())
    if source == "cms.gov" and site.is_dir():
        raise SystemExit(
            f"{data} holds the demo's synthetic samples ({site}); pointing it at cms.gov would mix real samples "
            "into them. Use another --data and --home for cms.gov (e.g. --data data-cms --home .dagster-cms)."
        )
    if source == "demo" and not site.is_dir():
        raise SystemExit(f"no demo site at {site}: run `make demo` first")
    env = {**os.environ, "DAGSTER_HOME": str(prepare_home(home))}
    with ExitStack() as stack:
        if use_demo:
            from cms_assets.sim.mirror import CmsMirror

            mirror = stack.enter_context(CmsMirror(site, port=DEMO_PORT, downloads_port=DEMO_PORT + 1))
            env.update(demo_env(data, mirror.landing_url))
            print(f"serving the demo's CMS site {site} at {mirror.landing_url}")
            print(f"  add a sample: .venv/bin/cms-assets generate --samples 3 --out {site}  (the sensor finds it)")
        else:
            env.setdefault("CMS_ASSETS_DATA", str(data))
            print("source: the real cms.gov (no demo site here)")
        return subprocess.call([_bin("dg"), "dev"], cwd=ROOT, env=env)  # the project from pyproject's [tool.dg]
