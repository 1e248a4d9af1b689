"""The warehouse: one schema for DuckDB, PostgreSQL and Redshift, atomic per-sample loads, BI views, the report.

Import from the submodules (``load``, ``schema``, ``views``, ``report``); this package stays import-light so
that reading the DDL never pulls in database drivers or matplotlib.
"""
