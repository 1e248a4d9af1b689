"""The ``cms-assets`` command: generate synthetic CMS data, serve a local CMS mirror, run the whole demo,
package the Spark code for EMR."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _samples(text: str) -> list[int]:
    """Parse "1,2" or "1-4" into sample numbers, with a clear error."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            out.extend(range(int(lo), int(hi or lo) + 1))
        except ValueError:
            raise argparse.ArgumentTypeError(f"samples must look like 1,2 or 1-4, got {text!r}") from None
    if not out or any(s < 1 or s > 20 for s in out):
        raise argparse.ArgumentTypeError(f"samples must be within 1..20, got {text!r}")
    return sorted(set(out))


def _cmd_generate(args: argparse.Namespace) -> int:
    from cms_assets.sim.generate import generate

    written = generate(Path(args.out), args.samples, scale=args.scale, seed=args.seed, quirks=not args.no_quirks)
    for sample, paths in written.items():
        print(f"sample {sample}: {len(paths)} zips in {args.out}")
    return 0


def _cmd_mirror(args: argparse.Namespace) -> int:
    from cms_assets.sim.mirror import serve_mirror

    serve_mirror(
        Path(args.dir), host=args.host, port=args.port, downloads_port=args.downloads_port or args.port + 1,
        quirks=not args.no_quirks, layout=args.layout,
    )  # fmt: skip
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from cms_assets.demo import run_demo

    return run_demo(
        samples=list(range(1, args.samples + 1)),
        scale=args.scale,
        seed=args.seed,
        data=Path(args.data),
        home=Path(args.home),
    )


def _cmd_dev(args: argparse.Namespace) -> int:
    from cms_assets.dev import run_dev

    return run_dev(data=Path(args.data), home=Path(args.home), source=args.source)


def _cmd_emr_package(args: argparse.Namespace) -> int:
    """Build the EMR entry script and package zip, upload them, print the variables that point at them."""
    import os

    from cms_assets.lib.spark.emr_package import build_package, upload_package
    from cms_assets.lib.storage import storage_from_url

    if not args.to.startswith("s3://") or len(args.to) <= len("s3://"):
        raise SystemExit(f"--to must be s3://bucket/prefix, got {args.to!r}")
    target = storage_from_url(
        args.to, endpoint_url=os.environ.get("CMS_S3_ENDPOINT_URL"), region=os.environ.get("AWS_REGION")
    )
    uploaded = upload_package(build_package(), target)
    for name, value in uploaded.env().items():
        print(f"{name}={value}")
    return 0


def _cmd_dbt(args: argparse.Namespace) -> int:
    """dbt on the analyst layer's project, pointed at CMS_WAREHOUSE_URL (the password stays in the environment)."""
    import os
    import subprocess

    from cms_assets.lib.transform import PROJECT_DIR, dbt_command, dbt_env

    url = os.environ.get("CMS_WAREHOUSE_URL", f"duckdb:///{os.path.join(args.data, 'warehouse.duckdb')}")
    env = {**os.environ, **dbt_env(url, os.environ.get("CMS_WAREHOUSE_SCHEMA", "cms"))}
    return subprocess.run(dbt_command(args.dbt_args or ["build"]), env=env, cwd=PROJECT_DIR).returncode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cms-assets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write synthetic DE-SynPUF zips exactly in CMS's format")
    gen.add_argument("--samples", type=_samples, default=[1], help="e.g. 1,2 or 1-4 (default 1)")
    gen.add_argument("--scale", type=float, default=0.01, help="1.0 = the real Sample 1 size (11.5M rows)")
    gen.add_argument("--out", required=True, help="directory for the zips")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--no-quirks", action="store_true", help="no ' - Copy.csv' members")
    gen.set_defaults(func=_cmd_generate)

    mir = sub.add_parser("mirror", help="serve generated zips like cms.gov (two hosts, Range, ETag)")
    mir.add_argument("--dir", required=True, help="directory the generator wrote")
    mir.add_argument("--host", default="127.0.0.1")
    mir.add_argument("--port", type=int, default=8000, help="main www host port")
    mir.add_argument("--downloads-port", type=int, default=0, help="downloads host port (default port+1)")
    mir.add_argument("--layout", choices=["legacy", "current"], default="legacy")
    mir.add_argument("--no-quirks", action="store_true", help="serve without CMS's known link quirks")
    mir.set_defaults(func=_cmd_mirror)

    demo = sub.add_parser("demo", help="generate, serve and materialize the whole graph locally, then summarize")
    demo.add_argument("--samples", type=int, default=2, help="how many samples: 1..N (default 2)")
    demo.add_argument("--scale", type=float, default=0.01)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--data", default="data", help="data directory (storage, warehouse)")
    demo.add_argument("--home", default=".dagster", help="DAGSTER_HOME shared with `make dev`")
    demo.set_defaults(func=_cmd_demo)

    dev = sub.add_parser("dev", help="the Dagster UI (`dg dev`) on the demo's instance, serving its CMS site")
    dev.add_argument("--data", default="data", help="data directory (storage, warehouse, demo site)")
    dev.add_argument("--home", default=".dagster", help="DAGSTER_HOME (the demo's by default)")
    dev.add_argument(
        "--source", choices=["auto", "demo", "cms.gov"], default="auto",
        help="auto: the demo's site when <data>/cms_site exists, else cms.gov",
    )  # fmt: skip
    dev.set_defaults(func=_cmd_dev)

    dbt = sub.add_parser("dbt", help="dbt on the analyst layer (cms_assets/transform), on CMS_WAREHOUSE_URL")
    dbt.add_argument("--data", default="data", help="data directory of the default DuckDB warehouse")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER, help="dbt's arguments (default: build)")
    dbt.set_defaults(func=_cmd_dbt)

    emr = sub.add_parser("emr", help="EMR Serverless helpers").add_subparsers(dest="emr_command", required=True)
    pkg = emr.add_parser("package", help="build and upload the EMR entry script and package zip")
    pkg.add_argument("--to", required=True, help="s3://bucket/prefix (credentials: boto3's chain)")
    pkg.set_defaults(func=_cmd_emr_package)
    return parser


def _stop_on_sigterm() -> None:
    """SIGTERM (timeout, kill, CI) unwinds like Ctrl-C, so the demo stops its daemon and mirror on the way out."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _stop_on_sigterm()
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
