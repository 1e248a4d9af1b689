# syntax=docker/dockerfile:1
# One image for every Dagster process of cms_assets (code server, webserver, daemon, run workers).
#
#   docker build -t cms-assets .
#   code server (default):  docker run -p 4000:4000 cms-assets
#   webserver:              docker run -p 3000:3000 cms-assets \
#                             dagster-webserver -h 0.0.0.0 -p 3000 -w /opt/dagster/app/workspace.prod.yaml
#   daemon:                 docker run cms-assets dagster-daemon run -w /opt/dagster/app/workspace.prod.yaml
#
# Webserver and daemon reach the code server through workspace.prod.yaml (host from DAGSTER_CODE_SERVER_HOST).
# Run storage etc. come from $DAGSTER_HOME/dagster.yaml (deploy/dagster.prod.yaml): see docs/deploy-aws.md.

# ---- builder: same install steps as the Makefile, into a venv that is copied whole into the runtime stage ----
FROM python:3.11-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv
WORKDIR /src

RUN python3 -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY cms_assets ./cms_assets
RUN /opt/venv/bin/pip install --quiet --upgrade pip \
    && /opt/venv/bin/pip install --quiet -e '.[test]'
# The dbt manifest of the analyst layer, so no process of the image needs to parse the project at start-up.
RUN /opt/venv/bin/python -c "from cms_assets.lib.transform import ensure_manifest; ensure_manifest()"

# ---- runtime: Python + a headless JRE for local-mode Spark; no compilers, no source tree ----
FROM python:3.11-slim-bookworm AS runtime

# man1 must exist for the JRE's update-alternatives on slim images; java lands on PATH via /usr/bin/java.
# Not pinned: bookworm security updates replace old versions, so a pin would break rebuilds.
# hadolint ignore=DL3008
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 dagster \
    && useradd --system --uid 10001 --gid dagster --home-dir /opt/dagster --shell /usr/sbin/nologin dagster

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/home \
    CMS_ASSETS_DEPLOYMENT=production \
    CMS_ASSETS_SCRATCH=/tmp/cms_assets

# The project is installed editable and kept at /src: the definitions autoload cms_assets/defs through the
# [tool.dg] section of /src/pyproject.toml (load_from_defs_folder), which a plain wheel install would not carry.
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /src /src
COPY deploy/dagster.prod.yaml /opt/dagster/home/dagster.yaml
COPY deploy/workspace.prod.yaml /opt/dagster/app/workspace.prod.yaml

# dbt writes each invocation's artifacts under the project's target/ folder.
RUN mkdir -p /opt/dagster/app /tmp/cms_assets \
    && chown -R dagster:dagster /opt/dagster /tmp/cms_assets /src/cms_assets/transform

USER 10001:10001
WORKDIR /opt/dagster/app

EXPOSE 3000 4000

# The code server answers `dagster api grpc-health-check`; the webserver variant should override this with
# an HTTP check on /server_info (see docs/deploy-aws.md), the daemon with `dagster-daemon liveness-check`.
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["dagster", "api", "grpc-health-check", "-p", "4000"]

CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "cms_assets.definitions", "-a", "defs"]
