"""The project's own checks pass: ruff, pyright on pinnlib, and the strict docs build.

Each tool runs with the interpreter running the tests, so it sees the same installed
packages (the `test` extra installs them all). The versions of ruff and pyright are
pinned there, so a new release cannot fail the suite on its own.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = ("pinnlib", "tests", "examples", "benchmarks")


def _run(*command: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _report(result: subprocess.CompletedProcess) -> str:
    return f"exit code {result.returncode}\n{result.stdout}\n{result.stderr}"


def test_ruff_check():
    result = _run("ruff", "check", "--no-cache", *CODE, timeout=120)
    assert result.returncode == 0, _report(result)


def test_ruff_format():
    result = _run("ruff", "format", "--check", "--no-cache", *CODE, timeout=120)
    assert result.returncode == 0, _report(result)


def test_pyright():
    # Configured in pyproject.toml ([tool.pyright]: basic mode on pinnlib/).
    result = _run("pyright", "--pythonpath", sys.executable, timeout=600)
    assert result.returncode == 0, _report(result)
    assert "0 errors" in result.stdout, _report(result)


def test_docs_build_strictly(tmp_path):
    site = tmp_path / "site"
    result = _run("mkdocs", "build", "--strict", "--site-dir", str(site), timeout=600)
    assert result.returncode == 0, _report(result)
    assert (site / "index.html").is_file()
    assert (site / "api" / "training" / "index.html").is_file()
