"""Shared helpers, by topic: ``zsltool.provenance`` (hashes, input records, command line, JSON-able values),
``zsltool.files`` (input checks, safe torch loading, output checks, atomic writes) and ``zsltool.runtime``
(seeds, devices, shards). This module re-exports them for existing imports; new code imports the topic
module."""

import os  # noqa: F401  (the os module the writers use: tests patch zsltool.utils.os.fsync)

from zsltool.files import (atomic_write_bytes, atomic_write_json, atomic_write_text,  # noqa: F401
                           check_output, ensure_writable_folder, read_text, require_file, temp_path_for,
                           torch_load)
from zsltool.provenance import (command_line, input_record, jsonable, sha256_file, sha256_json,  # noqa: F401
                                utc_now)
from zsltool.runtime import (env_shard, parse_shard, resolve_device, seed_everything, shard_items,  # noqa: F401
                             shard_out)
