"""What an EMR job needs from this project, built and uploaded in one step (``cms-assets emr package``).

Two files, both built from the installed ``cms_assets`` package with nothing fetched from the network:

- ``emr_entry.py``: a copy of :mod:`cms_assets.lib.spark.emr_entry`, the job's entry point;
- ``cms_assets.zip``: the package's Python sources for ``--py-files`` (no tests, no ``__pycache__``), written
  reproducibly (sorted members, fixed timestamps), so the same sources give the same bytes.

They are uploaded under ``<to>/<digest>/``, where ``digest`` is the first 12 hex digits of a SHA-256 over both
files: an upload never overwrites what a running job reads, and packaging unchanged code again is a no-op. The
third-party libraries (``dagster-pipes``, pyarrow, boto3, matplotlib) come from the cluster image or a
``venv-pack`` archive built for the cluster's own Python (see docs/deploy-aws.md); that archive is not built
here, because it has to match the cluster's OS and Python, not this machine's.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from cms_assets.lib.storage import Storage

ENTRY_NAME = "emr_entry.py"
ZIP_NAME = "cms_assets.zip"
#: Zip member timestamps: fixed, so the bytes depend on the sources only (1980-01-01 is zip's epoch).
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class EmrPackage:
    """The built files (bytes) and their content digest."""

    entry: bytes
    zip: bytes
    digest: str


@dataclass(frozen=True)
class Uploaded:
    """Where the package went: the ``s3://`` URIs the SparkResource's ``emr_*`` fields take."""

    entry_point_s3: str
    py_files_s3: str

    def env(self) -> dict[str, str]:
        """The production variables that point the SparkResource at this upload."""
        return {"CMS_EMR_ENTRY_POINT_S3": self.entry_point_s3, "CMS_EMR_PY_FILES_S3": self.py_files_s3}


def package_root() -> Path:
    """The directory of the ``cms_assets`` package being packaged (the one imported here)."""
    import cms_assets

    return Path(cms_assets.__file__).resolve().parent


def _sources(root: Path) -> list[Path]:
    files = [p for p in root.rglob("*.py") if "__pycache__" not in p.parts]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def build_zip(root: Path) -> bytes:
    """``cms_assets/**.py`` under ``root`` as a zip whose top-level entry is ``cms_assets/``."""
    if not (root / "__init__.py").is_file():
        raise FileNotFoundError(f"{root} is not a Python package (no __init__.py)")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in _sources(root):
            info = zipfile.ZipInfo(f"{root.name}/{path.relative_to(root).as_posix()}", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    return buf.getvalue()


def build_package(root: Path | None = None) -> EmrPackage:
    """Build the entry script and the package zip in memory (the package is a few hundred KB)."""
    root = root or package_root()
    entry_path = root / "lib" / "spark" / ENTRY_NAME
    if not entry_path.is_file():
        raise FileNotFoundError(f"EMR entry script not found at {entry_path}")
    entry = entry_path.read_bytes()
    archive = build_zip(root)
    digest = hashlib.sha256(hashlib.sha256(entry).digest() + hashlib.sha256(archive).digest()).hexdigest()[:12]
    return EmrPackage(entry=entry, zip=archive, digest=digest)


def upload_package(package: EmrPackage, target: Storage) -> Uploaded:
    """Upload both files under ``<target>/<digest>/``; the zip goes last, and both are skipped when present.

    The zip is uploaded last so that an interrupted upload leaves no complete-looking pair behind: a digest
    directory with both files is whole (each S3 PUT is atomic).
    """
    if not target.uri("").startswith("s3://"):
        raise ValueError(f"EMR reads its code from S3: the target must be s3://bucket/prefix, got {target.uri('')}")
    entry_key, zip_key = f"{package.digest}/{ENTRY_NAME}", f"{package.digest}/{ZIP_NAME}"
    for key, data in ((entry_key, package.entry), (zip_key, package.zip)):
        if target.size(key) != len(data) or target.read_bytes(key) != data:
            target.write_bytes(key, data)
    return Uploaded(entry_point_s3=target.uri(entry_key), py_files_s3=target.uri(zip_key))
