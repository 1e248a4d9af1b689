"""Demo and test tooling, apart from the pipeline (``cms_assets.lib``): a synthetic DE-SynPUF generator that writes
the published files' exact format (:mod:`.generate`) and a local mirror of the CMS site serving them over HTTP
(:mod:`.mirror`). ``make demo``, the tests and the benchmarks use them; the pipeline never imports them."""
