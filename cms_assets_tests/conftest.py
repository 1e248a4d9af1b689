"""Shared pytest configuration: one fixtures module per concern (S3, PostgreSQL, Spark, a Spark cluster, site,
data, browser, the demo), and a guard that the daemon tests stay on one xdist worker. xdist itself hands out the
largest group first (``--dist loadgroup`` orders work units by size), so the daemon tests start at once."""

import pytest

from cms_assets_tests.groups import DAEMON_GROUP

pytest_plugins = [
    "cms_assets_tests.fixtures.s3",
    "cms_assets_tests.fixtures.postgres",
    "cms_assets_tests.fixtures.spark",
    "cms_assets_tests.fixtures.spark_cluster",
    "cms_assets_tests.fixtures.site",
    "cms_assets_tests.fixtures.data",
    "cms_assets_tests.fixtures.browser",
    "cms_assets_tests.fixtures.demo",
]


def _daemon(item: pytest.Item) -> bool:
    return any(m.args == (DAEMON_GROUP,) for m in item.iter_markers("xdist_group"))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """On an xdist worker with ``--dist loadgroup``, the daemon tests must carry their group in their node id (that
    is how xdist keeps them on one worker); if a pytest/xdist pairing stops doing that, say so instead of running
    the demo on both workers."""
    if getattr(session.config.option, "loadgroup", False):
        ungrouped = [i.nodeid for i in session.items if _daemon(i) and not i.nodeid.endswith(f"@{DAEMON_GROUP}")]
        if ungrouped:
            raise pytest.UsageError(f"xdist_group({DAEMON_GROUP!r}) not applied by pytest-xdist: {ungrouped[:2]}")
