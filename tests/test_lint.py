"""The code's own checks, run by the test command: ruff, mypy (strict on the core), and the
TypeScript compiler over the page's script (`// @ts-check`, JSDoc types)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TSC = ROOT / ".cache" / "node" / "node_modules" / ".bin" / "tsc"


def run(*command):
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return done.returncode, (done.stdout + done.stderr)[-4000:]


def test_ruff():
    code, out = run(sys.executable, "-m", "ruff", "check", "agentnb")
    assert code == 0, out


def test_mypy():
    code, out = run(sys.executable, "-m", "mypy")
    assert code == 0, out


def test_the_page_script_type_checks():
    if not TSC.exists():
        message = "no TypeScript compiler in .cache/node: ./dev test installs it (needs npm)"
        if os.environ.get("CI") == "true" or shutil.which("npm"):
            pytest.fail(message)
        pytest.skip(message)
    code, out = run(str(TSC), "--noEmit", "--allowJs", "--checkJs", "--strict", "--target", "es2022",
                    "--module", "es2022", "--lib", "es2022,dom", "agentnb/static/view.js")
    assert code == 0, out
