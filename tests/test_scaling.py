"""Scaling out (docs/scaling.md): extract-* take their shard from torchrun or a SLURM array when --shard is not
given, and each task writes its own file for zsl merge."""

from pathlib import Path

import pytest

from zsltool.errors import ZslError
from zsltool.runtime.env import env_shard, parse_shard, shard_out

LAUNCH_VARS = ("RANK", "WORLD_SIZE", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN")


@pytest.fixture
def env(monkeypatch):
    for k in LAUNCH_VARS:
        monkeypatch.delenv(k, raising=False)
    return monkeypatch


def test_shard_from_torchrun_and_slurm(env):
    assert env_shard() is None and parse_shard(None) == (0, 1)
    env.setenv("SLURM_ARRAY_TASK_ID", "7")
    env.setenv("SLURM_ARRAY_TASK_COUNT", "4")
    env.setenv("SLURM_ARRAY_TASK_MIN", "5")  # sbatch --array=5-8
    assert parse_shard(None) == (2, 4)
    assert parse_shard("1/3") == (0, 3)  # --shard wins
    env.setenv("RANK", "1")
    env.setenv("WORLD_SIZE", "2")
    assert parse_shard("") == (1, 2)  # torchrun first
    env.setenv("RANK", "2")
    with pytest.raises(ZslError, match="outside"):
        parse_shard(None)


def test_each_task_writes_its_own_file(env):
    assert shard_out(Path("emb/audio.h5"), None) == Path("emb/audio.h5")
    env.setenv("SLURM_ARRAY_TASK_ID", "0")
    env.setenv("SLURM_ARRAY_TASK_COUNT", "3")
    assert shard_out(Path("emb/audio.h5"), None) == Path("emb/audio.1-of-3.h5")
    assert shard_out("audio.h5", None) == "audio.1-of-3.h5"
    assert shard_out(Path("emb/audio.h5"), "2/3") == Path("emb/audio.h5")  # an explicit --shard names its out
