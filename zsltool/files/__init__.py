"""Files users give and files zsl writes: input checks and atomic writes (``checks``), the safety rules every
command shares (``safety``), what a file is from its first bytes (``kinds``), JSON formats (``formats``),
provenance and file hashes with their one cache (``provenance``), a run's read-once memo (``runcache``)."""
