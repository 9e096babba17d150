"""Regenerate the shell completion scripts from the CLI itself:  python completions/generate.py

Each script is what `zsl --show-completion SHELL` prints; tests/cli/test_completions.py fails when a
committed script is stale.
"""

import os
import subprocess
import sys
from pathlib import Path

SHELLS = {"bash": "zsl.bash", "zsh": "zsl.zsh", "fish": "zsl.fish"}


def render(shell: str) -> str:
    # Without shell detection, --show-completion takes the shell's name as its value.
    env = dict(os.environ, _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    out = subprocess.run([sys.executable, "-m", "zsltool", "--show-completion", shell], check=True,
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], env=env)
    return out.stdout


def main() -> None:
    here = Path(__file__).resolve().parent
    for shell, name in SHELLS.items():
        (here / name).write_text(render(shell))
        print(f"wrote {here / name}", file=sys.stderr)


if __name__ == "__main__":
    main()
