"""Spark code: the session, the beneficiary-year feature table, the next-year cost model and the EMR entry.

Nothing here starts Spark at import time; call :func:`cms_assets.lib.spark.session.get_spark`.
"""
