"""How a run runs: seeds, devices, shards and the heap (``env``), progress on stderr (``progress``), validity
guards on results (``guards``) and the installation report (``doctor``)."""
