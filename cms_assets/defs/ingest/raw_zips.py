"""raw_cms_zips: the 8 CMS zips of a sample, streamed from the CMS site into storage."""

import time

import dagster as dg

from cms_assets.defs.kinds import STORAGE
from cms_assets.defs.partitions import cms_sample
from cms_assets.defs.resources import CmsSiteResource, StorageResource
from cms_assets.lib.synpuf.names import sample_of_partition
from cms_assets.lib.versions import combined


@dg.asset(
    partitions_def=cms_sample,
    group_name="ingest",
    kinds={"python", STORAGE},
    code_version="1",
    pool="cms_download",
)
def raw_cms_zips(context: dg.AssetExecutionContext, cms_site: CmsSiteResource, storage: StorageResource):
    """The eight CMS zips of one sample, verified (size, ETag, CRCs) and published atomically."""
    from cms_assets.lib.site.download import download_sample, raw_location

    sample = sample_of_partition(context.partition_key)
    started = time.monotonic()
    site = cms_site.client()
    try:
        page = next((p for p in site.samples() if p.sample == sample), None)
        if page is None:
            raise dg.Failure(f"sample {sample} is not listed on {cms_site.landing_url}")
        files = site.files(page)
        results = download_sample(
            site, files, storage.get(), sample, storage.scratch("partial"),
            max_workers=cms_site.max_parallel_downloads, log=context.log.info,
        )  # fmt: skip
    finally:
        site.close()
    total = sum(r.size for r in results)
    downloaded = [r for r in results if not r.skipped]
    # The data version is the files' content: a re-download of identical bytes changes nothing downstream.
    version = combined({r.spec.zip_name: r.sha256 for r in results})
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={
            "files": len(results),
            "downloaded": len(downloaded),
            "skipped_unchanged": len(results) - len(downloaded),
            "resumed": sum(r.resumed for r in results),
            "bytes": dg.MetadataValue.int(total),
            "mb": round(total / 1e6, 2),
            "seconds": round(time.monotonic() - started, 2),
            "sample_page": dg.MetadataValue.url(page.url),
            "location": raw_location(storage.get(), sample),
            "sources": dg.MetadataValue.md(
                "| file | bytes | sha256 | etag | url |\n|---|---|---|---|---|\n"
                + "\n".join(
                    f"| {r.spec.zip_name} | {r.size:,} | {(r.sha256 or '')[:12]} | {r.etag} | {r.url} |"
                    for r in results
                )
            ),
        },
    )
