"""One SparkSession per process: local mode tuned for a small machine, or Spark Connect to a cluster.

The session is created on first use (never at import) and cached, because starting a JVM costs seconds and a
process can hold only one active local SparkContext anyway.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Local-mode defaults for a 2-core / 24 GB machine shared with other work.
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.master": "local[*]",
    "spark.driver.memory": "4g",
    "spark.sql.shuffle.partitions": "8",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Bind to loopback only: local mode needs no other address.
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}

#: Settings that mean something to a running session (runtime SQL confs); the rest are JVM-launch settings.
_RUNTIME_PREFIXES = ("spark.sql.",)

_lock = threading.Lock()
_session: SparkSession | None = None
_remote: str | None = None


def _under_spark_submit() -> bool:
    """True when spark-submit (EMR, YARN, a cluster) launched this Python process and chose the master."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def _is_alive(session: SparkSession) -> bool:
    try:
        if _remote:
            return not getattr(session, "is_stopped", False)
        return session.sparkContext._jsc is not None  # noqa: SLF001 - the only liveness signal pyspark offers
    except Exception:  # noqa: BLE001 - a dead session raises all sorts of things
        return False


def get_spark(
    remote: str | None = None, app_name: str = "cms_assets", conf: dict[str, str] | None = None
) -> SparkSession:
    """The process's SparkSession: ``remote="sc://host:port"`` for Spark Connect, else local mode.

    ``conf`` overrides the local defaults. With Spark Connect only runtime SQL settings (``spark.sql.*``) are
    applied: JVM settings such as driver memory belong to the server. Under spark-submit the submitter's master
    and memory are kept. ``conf`` applies when the session is created; later calls return the cached session.
    Asking for a different ``remote`` than the cached session's stops it first.
    """
    global _session, _remote
    from pyspark.sql import SparkSession

    with _lock:
        if _session is not None and _remote == remote and _is_alive(_session):
            return _session
        if _session is not None:
            _stop_locked()
        wanted = dict(conf or {})
        if remote:
            session = SparkSession.builder.remote(remote).appName(app_name).getOrCreate()
            for key, value in wanted.items():
                if key.startswith(_RUNTIME_PREFIXES):
                    session.conf.set(key, value)
            session.conf.set("spark.sql.session.timeZone", "UTC")
        else:
            settings = {} if _under_spark_submit() else dict(LOCAL_DEFAULTS)
            settings["spark.sql.session.timeZone"] = "UTC"
            settings.update(wanted)
            builder = SparkSession.builder.appName(app_name)
            for key, value in settings.items():
                builder = builder.config(key, value)
            session = builder.getOrCreate()
            session.sparkContext.setLogLevel("WARN")
        _session, _remote = session, remote
        return session


def _stop_locked() -> None:
    global _session, _remote
    if _session is not None:
        try:
            _session.stop()
        finally:
            _session, _remote = None, None


def stop_spark() -> None:
    """Stop the cached session (tests, CLI exit); the next :func:`get_spark` starts a new one."""
    with _lock:
        _stop_locked()
