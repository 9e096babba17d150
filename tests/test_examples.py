"""examples/*.sh cannot go stale: they parse (bash -n), and every `$ZSL <command> --option` they use exists.

The scripts that need real data (AudioSet, Open Images, ESC-50, weights) cannot run here, so their command
lines are checked against the CLI itself (tests/cli_calls.py, the checker of the docs' command lines too): each
command must be registered and each option must be one of the click command's parameters or a global option; a
literal value of a choice option must be one of its choices. ``examples/demo.sh`` also runs end to end in
tests/test_demo.py.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli_calls import check_call

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((REPO / "examples").glob("*.sh"))
STOP = {";", "&&", "||", "|", "&", ")", "(", ">", ">>", "<", "2>", "then", "do", "done", "fi"}


def logical_lines(text: str) -> list[str]:
    """The script's lines with backslash continuations joined and here-documents left out."""
    out, buf, heredoc = [], "", None
    for line in text.splitlines():
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        m = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
        if m:
            heredoc = m.group(1)
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        out.append(buf + line)
        buf = ""
    return out


def zsl_calls(text: str) -> list[list[str]]:
    """Token lists following each ``$ZSL`` (global options, command, its arguments) up to a shell operator."""
    calls = []
    for line in logical_lines(text):
        if "$ZSL" not in line or line.lstrip().startswith("#") or re.match(r"\s*ZSL=", line):
            continue
        lex = shlex.shlex(line, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        lex.commenters = "#"
        toks = list(lex)
        for i, tok in enumerate(toks):
            if tok == "$ZSL":
                call = []
                for t in toks[i + 1:]:
                    if t in STOP or t == "$ZSL":
                        break
                    call.append(t)
                calls.append(call)
    return calls


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_example_parses_and_uses_real_options(script):
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    res = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    text = script.read_text(encoding="utf-8")
    assert "set -euo pipefail" in text
    calls = zsl_calls(text)
    assert calls, f"{script.name} runs no zsl command"
    problems = [f"{' '.join(c[:3])}...: {p}" for c in calls for p in check_call(c)]
    assert not problems, "\n".join(problems)


def test_the_checker_catches_stale_calls():
    text = ('ZSL=${ZSL:-zsl}\ncat <<EOF\n$ZSL nonsense --x\nEOF\n'
            '$ZSL --seed 1 evaluate m.pt --split s.json \\\n    --no-such-option 3 --modality both\n'
            '$ZSL compare a.json b.json --by trial && $ZSL train --audio a.h5 # --bogus\n'
            '$ZSL frobnicate x\n')
    calls = zsl_calls(text)
    assert [c[:3] for c in calls] == [["--seed", "1", "evaluate"], ["compare", "a.json", "b.json"],
                                      ["train", "--audio", "a.h5"], ["frobnicate", "x"]]
    problems = [p for c in calls for p in check_call(c)]
    assert problems == ["zsl evaluate: unknown option --no-such-option",
                        "zsl compare --by: 'trial' is not one of ['method', 'semantic', 'file']",
                        "unknown command 'frobnicate'"]


def test_audiosetzsl_gzsl_tests_each_method_on_its_own_modalities():
    """examples/audiosetzsl_gzsl.sh evaluates each method only on modalities the method can score (it used to
    run `evaluate --modality video` on audio-only, which stopped the script under set -e), calibrates beta on
    a split with unseen validation clips, and evaluates the attention model too."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    import torch

    from zsltool.methods.base import get_method

    script = REPO / "examples" / "audiosetzsl_gzsl.sh"
    text = script.read_text(encoding="utf-8")
    func = re.search(r"^modalities\(\) \{.*?esac; \}$", text, re.S | re.M).group(0)
    methods = re.search(r"^for m in ([^;]+); do$", text, re.M).group(1).split()
    assert "avgzslnet-attn" in methods
    for m in methods:
        mods = subprocess.run(["bash", "-c", f"{func}\nmodalities {m}"], capture_output=True, text=True,
                              check=True).stdout.split()
        assert mods, m
        model = get_method("avgzslnet" if m == "avgzslnet-attn" else m)(audio_dim=4, video_dim=5, semantic_dim=3)
        for mod in mods:  # raises if the method cannot score this modality
            s = model.scores(torch.randn(2, 3), audio=torch.randn(6, 4), video=torch.randn(6, 5), modality=mod)
            assert tuple(s.shape) == (6, 2), (m, mod)
    calls = zsl_calls(text)
    split = [c for c in calls if "split" in c and "gzsl" in c]
    assert split and all("--unseen-val-fraction" in c for c in split)
    assert all("--calibrate" in c for c in calls if "evaluate" in c)


def test_the_checker_looks_inside_command_groups():
    assert check_call(["prepare", "esc50", "d", "--esc10", "--out", "o"]) == []
    assert check_call(["prepare", "esc50", "d", "--bogus"]) == ["zsl prepare esc50: unknown option --bogus"]
