"""Every Python code block of README.md and docs/**/*.md runs.

A page is run as a reader would run it: its ```` ```python ```` blocks in order, in
one fresh namespace, in an empty working directory (files a page writes, such as
checkpoints, land there), with JAX's default configuration (float32, implicit rank
promotion allowed) unless the page changes it. Blocks nested in admonitions
(indented fences) count too.

Conventions for writers of the docs:

- Every Python block runs. A block that must not run (a sketch with placeholders, a
  signature) is either written as a plain ```` ``` ```` block, or marked by an HTML
  comment as the last non-blank line before its fence:
  ``<!-- not run: the reason -->``. Use this sparingly; a page that needs names
  defined elsewhere defines them in a set-up block of its own instead (a collapsed
  ``??? example "Set-up"`` admonition holding a ```` ```python ```` block).
- Long trainings are written with their real step counts. This test runs every
  ``pinnlib.fit``, ``pinnlib.run`` and ``pinnlib.run_steps`` call of the docs with at
  most ``QUICK_STEPS`` steps, so it checks that the code runs, not what it reaches.
  Set ``PINNLIB_DOCS_FULL=1`` to run the pages exactly as written (hours).
"""

import dataclasses
import functools
import inspect
import os
import re
import sys
import textwrap
from pathlib import Path

import jax
import pytest

import pinnlib

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
QUICK_STEPS = 2
FULL = os.environ.get("PINNLIB_DOCS_FULL", "") not in ("", "0")
# The entry points that take a number of steps, by the name of that parameter.
SHORTENED = {"fit": "num_steps", "run": "num_steps", "run_steps": "num_steps"}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_SKIP = re.compile(r"^\s*<!--\s*not run:\s*(?P<reason>\S.*?)\s*-->\s*$")
_LANGUAGES = ("python", "py")


@dataclasses.dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the first line of code
    language: str
    source: str
    skip_reason: str | None


def code_blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page, in order."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        info = opening["info"].strip().strip("{}").lstrip(".")
        language = info.split()[0].lower() if info else ""
        previous = next((s for s in reversed(lines[:i]) if s.strip()), "")
        skip = _SKIP.match(previous)
        end = i + 1
        while end < len(lines):
            closing = _FENCE.match(lines[end])
            if (
                closing is not None
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            end += 1
        body = [
            s[len(indent) :] if s.startswith(indent) else s for s in lines[i + 1 : end]
        ]
        blocks.append(
            Block(
                page=page,
                line=i + 2,
                language=language,
                source=textwrap.dedent("\n".join(body)) + "\n",
                skip_reason=skip["reason"] if skip else None,
            )
        )
        i = end + 1
    return blocks


def _python_blocks(page: Path) -> list[Block]:
    return [b for b in code_blocks(page) if b.language in _LANGUAGES]


def _shortened(fn, parameter: str):
    """``fn`` with its number of steps capped at ``QUICK_STEPS``."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        steps = bound.arguments.get(parameter)
        if isinstance(steps, int) and steps > QUICK_STEPS:
            bound.arguments[parameter] = QUICK_STEPS
        return fn(*bound.args, **bound.kwargs)

    return wrapper


_CONFIG = ("jax_enable_x64", "jax_numpy_rank_promotion", "jax_default_matmul_precision")


@pytest.fixture
def as_a_reader(tmp_path, monkeypatch):
    """An empty working directory, JAX's defaults, and (quick mode) short trainings."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if not FULL:
        for name, parameter in SHORTENED.items():
            monkeypatch.setattr(
                pinnlib, name, _shortened(getattr(pinnlib, name), parameter)
            )
    saved = {name: getattr(jax.config, name) for name in _CONFIG}
    jax.config.update("jax_enable_x64", False)
    jax.config.update("jax_numpy_rank_promotion", "allow")
    jax.config.update("jax_default_matmul_precision", None)
    try:
        yield tmp_path
    finally:
        for name, value in saved.items():
            jax.config.update(name, value)
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")


PAGES_WITH_CODE = [p for p in PAGES if _python_blocks(p)]
# The heaviest guides run from tests/test_docs_code_heavy.py: pytest-xdist keeps a
# module on one worker (`--dist loadfile`), so two modules run side by side.
HEAVY = ("concepts.md", "inverse-problems.md", "operators.md", "optimizers.md")
HEAVY_PAGES = [
    p for p in PAGES_WITH_CODE if p.parent.name == "docs" and p.name in HEAVY
]


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize(
    "page", [p for p in PAGES_WITH_CODE if p not in HEAVY_PAGES], ids=_page_id
)
def test_page_code_runs(page, as_a_reader):
    run_page(page)


def run_page(page: Path) -> None:
    """Run the page's Python blocks in order, in one namespace, as a reader would."""
    namespace = {"__name__": "__main__"}
    for block in _python_blocks(page):
        if block.skip_reason is not None:
            continue
        # Padding keeps the line numbers of tracebacks those of the Markdown page.
        source = "\n" * (block.line - 1) + block.source
        code = compile(source, str(page.relative_to(ROOT)), "exec")
        exec(code, namespace)


def test_blocks_are_found(tmp_path):
    """The parser sees the blocks a reader sees, including those in admonitions."""
    page = tmp_path / "page.md"
    text = "\n".join(
        [
            "Text",
            "```python",
            "a = 1",
            "```",
            "",
            "<!-- not run: needs a GPU -->",
            "",
            "```python",
            "raise RuntimeError",
            "```",
            "!!! note",
            "",
            "    ```python",
            "    if a:",
            "        b = 2",
            "    ```",
            "````markdown",
            "```python",
            "inside = 'a markdown example'",
            "```",
            "````",
            "```",
            "signature(x) -> y",
            "```",
            "```bash",
            "echo hi",
            "```",
        ]
    )
    page.write_text(text + "\n", encoding="utf-8")
    blocks = code_blocks(page)
    assert [(b.language, b.line) for b in blocks] == [
        ("python", 3),
        ("python", 9),
        ("python", 14),
        ("markdown", 18),
        ("", 23),
        ("bash", 26),
    ]
    assert [b.skip_reason for b in blocks][:3] == [None, "needs a GPU", None]
    assert blocks[2].source == "if a:\n    b = 2\n"
    assert "inside =" in blocks[3].source


def test_not_run_markers_are_few_and_precede_python_blocks():
    """A marker that precedes no Python block is stale; every skip states a reason."""
    skipped = 0
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        markers = [n + 1 for n, line in enumerate(lines) if _SKIP.match(line)]
        blocks = _python_blocks(page)
        for line in markers:
            assert any(b.skip_reason and b.line > line for b in blocks), (
                f"{_page_id(page)}:{line}: `<!-- not run: ... -->` is not right "
                "before a ```python block"
            )
        skipped += sum(b.skip_reason is not None for b in blocks)
        malformed = [
            line
            for line in lines
            if line.lstrip().startswith("<!--")
            and "not run" in line
            and not _SKIP.match(line)
        ]
        assert not malformed, (
            f"{_page_id(page)}: a malformed `<!-- not run: reason -->` marker"
        )
    total = sum(len(_python_blocks(p)) for p in PAGES)
    assert total >= 20 and skipped <= total // 10


def test_quick_mode_caps_steps():
    calls = []

    def fit(step, state, batch, num_steps, *, args=None):
        calls.append(num_steps)

    short = _shortened(fit, "num_steps")
    short(None, None, None, 20_000)
    short(None, None, None, num_steps=1, args={})
    assert calls == [QUICK_STEPS, 1]
    for name, parameter in SHORTENED.items():  # still the names of the public API
        assert parameter in inspect.signature(getattr(pinnlib, name)).parameters
