"""The code base stays ruff-clean (settings in ruff.toml), so a lint slip fails the suite, not a later review."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import unavailable

PROJECT_DIR = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing(request):
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        unavailable(request.config, "lint", "ruff is not installed (it is in requirements-dev.txt)")
    run = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise", "."], cwd=PROJECT_DIR,
                         capture_output=True, text=True, timeout=120)
    assert run.stdout.strip().splitlines()[-1:] == ["All checks passed!"], run.stdout + run.stderr
    assert run.returncode == 0
