"""Shared pytest configuration: one fixtures module per concern (S3, PostgreSQL, Spark, a Spark cluster, site,
data, browser, the demo), and the order that keeps both xdist workers busy."""

import pytest

from cms_assets_tests.fixtures.demo import DAEMON_GROUP

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The daemon tests first: they are the longest chain (about half the suite's time), so the worker that takes
    them starts at once and the other worker runs everything else beside them (``make test`` runs ``-n 2``)."""

    def daemon(item: pytest.Item) -> bool:
        return any(m.args == (DAEMON_GROUP,) for m in item.iter_markers("xdist_group"))

    items.sort(key=lambda item: not daemon(item))  # stable: each group keeps its collection order
