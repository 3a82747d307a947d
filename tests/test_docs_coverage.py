"""Docs coverage: every public symbol has a docstring with an example and an API entry.

The modules checked are ``pinnlib`` itself (the training core is exported at the top
level) and each of its public subpackages, found at run time, so a new subpackage is
checked as soon as ``pinnlib/__init__.py`` imports it. The public API of each module
is its ``__all__`` when present. Otherwise it is the union of:

- the names the module binds itself, through top-level ``def``/``class``/assignment,
  or through explicit re-exports (``from ._mod import name as name``);
- the attributes at run time whose ``__module__`` is the module or one of its
  private submodules.

Plain imports of other libraries (``import os``, ``from typing import ...``) and
submodules are excluded. Each public function or class must have its own docstring
containing ``!!! example``. Each public name must appear in some ``docs/api/*.md`` as
``::: pinnlib.<path>``. Static checks only: mkdocs is not needed.
"""

import ast
import importlib
import inspect
import pkgutil
import re
import types
from pathlib import Path

import pytest

import pinnlib

# Subpackages whose API is re-exported and documented at the top level instead.
TOP_LEVEL_ONLY = ("pinnlib.train",)
EXPECTED = (
    "pinnlib.checkpoint",
    "pinnlib.nn",
    "pinnlib.diff",
    "pinnlib.pdes",
    "pinnlib.domains",
    "pinnlib.losses",
    "pinnlib.optim",
    "pinnlib.reference",
    "pinnlib.metrics",
    "pinnlib.plot",
    "pinnlib.weighting",
    "pinnlib.sampling",
    "pinnlib.data",
    "pinnlib.parallel",
)
# The top level (training core) and every public subpackage, so new ones are checked.
MODULES = ("pinnlib",) + tuple(
    sorted(
        obj.__name__
        for name, obj in vars(pinnlib).items()
        if isinstance(obj, types.ModuleType)
        and not name.startswith("_")
        and obj.__name__ == f"pinnlib.{name}"
        and obj.__name__ not in TOP_LEVEL_ONLY
    )
)
API_DOCS = Path(__file__).resolve().parents[1] / "docs" / "api"
_DIRECTIVE = re.compile(r"^:::\s+(pinnlib(?:\.\w+)*)\s*$", re.MULTILINE)


def _bound_in_source(module: types.ModuleType) -> set[str]:
    """Names the module defines or explicitly re-exports (``name as name``)."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            names.update(a.asname for a in node.names if a.asname == a.name)
    return names


def _defined_here(module: types.ModuleType, obj) -> bool:
    owner = getattr(obj, "__module__", None)
    return isinstance(owner, str) and (
        owner == module.__name__ or owner.startswith(module.__name__ + ".")
    )


def public_names(module: types.ModuleType) -> list[str]:
    if hasattr(module, "__all__"):
        candidates = set(module.__all__)
    else:
        candidates = _bound_in_source(module) | {
            name for name, obj in vars(module).items() if _defined_here(module, obj)
        }
    return sorted(
        name
        for name in candidates
        if not name.startswith("_")
        and hasattr(module, name)
        and not isinstance(getattr(module, name), types.ModuleType)
    )


def _public_api() -> list[tuple[str, str]]:
    pairs = []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        pairs.extend((module_name, name) for name in public_names(module))
    return pairs


PUBLIC = _public_api()
_IDS = [f"{module}.{name}" for module, name in PUBLIC]


def _documented_targets() -> set[str]:
    return {
        target
        for page in sorted(API_DOCS.glob("*.md"))
        for target in _DIRECTIVE.findall(page.read_text(encoding="utf-8"))
    }


def _own_docstring(obj) -> str:
    # Classes: only their own docstring, not one inherited from a base (eqx.Module).
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else obj.__doc__
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


def test_public_api_is_found():
    assert set(EXPECTED) <= set(MODULES)
    names = set(_IDS)
    for expected in (
        "pinnlib.fit",
        "pinnlib.nn.mlp",
        "pinnlib.diff.laplacian",
        "pinnlib.losses.combine",
        "pinnlib.plot.solution",
    ):
        assert expected in names
    assert "pinnlib.plot.relative_l2" not in names  # a plain import, not plot's API
    assert not any(n.endswith((".jax", ".jnp", ".np", ".os")) for n in names)


@pytest.mark.parametrize(("module_name", "name"), PUBLIC, ids=_IDS)
def test_docstring_has_example(module_name, name):
    obj = getattr(importlib.import_module(module_name), name)
    if not (inspect.isclass(obj) or inspect.isroutine(obj)):
        pytest.skip("constants need an API entry only")
    if module_name == "pinnlib.typing" and getattr(obj, "__module__", "") != (
        "pinnlib.typing"
    ):
        pytest.skip("type aliases and re-exports: documented where they are defined")
    doc = _own_docstring(obj)
    assert doc, f"{module_name}.{name} has no docstring"
    assert "!!! example" in doc, (
        f"{module_name}.{name}: the docstring has no `!!! example` block"
    )


@pytest.mark.parametrize(("module_name", "name"), PUBLIC, ids=_IDS)
def test_listed_in_api_docs(module_name, name):
    path = f"{module_name}.{name}"
    assert path in _documented_targets(), (
        f"{path} is not documented: add `::: {path}` to a page in docs/api/"
    )


def test_api_entries_resolve():
    """Every `::: pinnlib...` entry names an existing module or attribute."""
    targets = _documented_targets()
    assert targets, f"no `::: pinnlib...` entries found in {API_DOCS}"
    for target in sorted(targets):
        try:
            pkgutil.resolve_name(target)
        except (ImportError, AttributeError):
            pytest.fail(f"docs/api entry `::: {target}` does not exist")
