"""The CMS DE-SynPUF site: a local mirror that imitates cms.gov, a scraper for it (or the real one) and a
resumable downloader that publishes verified zips into storage."""
