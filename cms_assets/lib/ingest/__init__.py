"""Ingest: verify CMS zips, stream their CSVs into typed Parquet, and check the resulting tables."""

from cms_assets.lib.ingest.checks import CheckOutcome, checks_for
from cms_assets.lib.ingest.convert import ConvertResult, IngestError, convert_table
from cms_assets.lib.ingest.zipfiles import CorruptZipError, ZipMember, open_member, verify_zip

__all__ = [
    "CheckOutcome",
    "ConvertResult",
    "CorruptZipError",
    "IngestError",
    "ZipMember",
    "checks_for",
    "convert_table",
    "open_member",
    "verify_zip",
]
