"""Files users give and files zsl writes: input checks and atomic writes (``checks``), the safety rules every
command shares (``safety``), what a file is from its first bytes (``kinds``), JSON formats (``formats``),
provenance and hashes (``provenance``, ``runcache``)."""
