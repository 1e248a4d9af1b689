"""Shared pytest configuration: one fixtures module per concern (S3, PostgreSQL, Spark, a Spark cluster, site,
data, browser, the demo)."""

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
