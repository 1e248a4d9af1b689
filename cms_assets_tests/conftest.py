"""Shared pytest configuration: one fixtures module per concern (S3, PostgreSQL, Spark, a Spark cluster, site,
data, browser, the demo), and the order that keeps both xdist workers busy."""

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The daemon tests first: they are the longest chain (about half the suite's time), so the worker that takes
    them starts at once and the other worker runs everything else beside them (``make test`` runs ``-n 2``)."""
    items.sort(key=lambda item: not _daemon(item))  # stable: each group keeps its collection order


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """On an xdist worker with ``--dist loadgroup``, the daemon tests must carry their group in their node id (that
    is how xdist keeps them on one worker); if a pytest/xdist pairing stops doing that, say so instead of running
    the demo on both workers."""
    if getattr(session.config.option, "loadgroup", False):
        ungrouped = [i.nodeid for i in session.items if _daemon(i) and not i.nodeid.endswith(f"@{DAEMON_GROUP}")]
        if ungrouped:
            raise pytest.UsageError(f"xdist_group({DAEMON_GROUP!r}) not applied by pytest-xdist: {ungrouped[:2]}")
