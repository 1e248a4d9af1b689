"""Shared pytest configuration: each fixtures module belongs to one concern (S3, PostgreSQL, Spark, site, data)."""

pytest_plugins = [
    "cms_assets_tests.fixtures.s3",
    "cms_assets_tests.fixtures.postgres",
    "cms_assets_tests.fixtures.spark",
    "cms_assets_tests.fixtures.site",
    "cms_assets_tests.fixtures.data",
]
