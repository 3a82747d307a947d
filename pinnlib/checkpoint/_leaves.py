"""The leaves of a checkpointed pytree: descriptions, comparison, and typed keys."""

import itertools
import re
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils

from .._keys import is_key, through_key_data

_SCALARS = (bool, int, float, complex)


def _describe(path, leaf) -> dict:
    out: dict[str, Any] = {"path": jax.tree_util.keystr(path)}
    if isinstance(leaf, jax.Array | jax.ShapeDtypeStruct | np.ndarray | np.generic):
        out.update(shape=list(leaf.shape), dtype=str(leaf.dtype))
        if isinstance(leaf, jax.Array) and is_key(leaf):
            out["impl"] = str(jax.random.key_impl(leaf))
    elif isinstance(leaf, _SCALARS):
        out.update(shape=[], dtype=f"python {type(leaf).__name__}")
    elif eqx.is_array_like(leaf):
        out.update(shape=list(np.shape(leaf)), dtype=str(np.asarray(leaf).dtype))
    else:  # functions and other static data: not saved, taken from the template
        out.update(shape=None, dtype="static")
    return out


def describe(tree) -> list[dict]:
    """One `{"path", "shape", "dtype"}` per leaf (`"impl"` too for typed keys)."""
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [_describe(path, leaf) for path, leaf in flat]


def keys_to_data(tree):
    """`tree` with every typed PRNG key replaced by its raw `uint32` key data."""

    def convert(leaf):
        if not is_key(leaf):
            return leaf
        if isinstance(leaf, jax.ShapeDtypeStruct):
            return jax.eval_shape(jax.random.key_data, leaf)
        return jax.random.key_data(leaf)

    return jax.tree.map(convert, tree)


def on_host(tree):
    """`tree` with every array split over several processes gathered whole.

    Arrays this process holds entirely (one device, or split over local devices)
    are kept: NumPy reads them as they are. Typed PRNG keys are gathered as their
    key data and re-wrapped.
    """

    def gather(leaf):
        if not isinstance(leaf, jax.Array) or leaf.is_fully_addressable:
            return leaf
        if is_key(leaf):
            return through_key_data(gather, leaf)
        return multihost_utils.process_allgather(leaf, tiled=True)

    return jax.tree.map(gather, tree)


def placed_like(f, template_leaf):
    """A leaf read from `f` (`equinox.tree_deserialise_leaves`), placed like the
    template's: with the sharding of `template_leaf` when it is a JAX array placed
    on purpose (committed, e.g. by `pinnlib.parallel`) or a `jax.ShapeDtypeStruct`
    with a sharding; otherwise on JAX's default device, as the template is."""
    if not isinstance(template_leaf, jax.Array | jax.ShapeDtypeStruct):
        return eqx.default_deserialise_filter_spec(f, template_leaf)
    value = np.load(f)
    sharding = getattr(template_leaf, "sharding", None)
    if sharding is None or not getattr(template_leaf, "committed", True):
        return jnp.asarray(value)  # where JAX puts arrays by default, like the template
    return jax.device_put(value, sharding)


def data_to_keys(tree, descriptions: list[dict]):
    """Inverse of `keys_to_data`: re-wrap key data where `descriptions` has an impl."""
    leaves, treedef = jax.tree.flatten(tree)
    leaves = [
        jax.random.wrap_key_data(leaf, impl=d["impl"]) if "impl" in d else leaf
        for leaf, d in zip(leaves, descriptions, strict=True)
    ]
    return jax.tree.unflatten(treedef, leaves)


def _show(description: dict) -> str:
    if description["shape"] is None:
        return "a static (unsaved) value"
    if description["dtype"].startswith("python "):
        return f"a {description['dtype'].replace('python', 'Python')}"
    return f"shape {tuple(description['shape'])} {description['dtype']}"


_PART = re.compile(r"\.[^.\[]+|\[[^\]]*\]")


def _subtrees(paths: list[str], others: list[str]) -> str:
    """`paths` (only on one side) grouped into the subtrees missing on the other."""
    other_parts = [tuple(_PART.findall(p)) for p in others]
    groups: dict[str, int] = {}
    for path in paths:
        parts = tuple(_PART.findall(path))
        for n in range(1, len(parts) + 1):
            if not any(o[:n] == parts[:n] for o in other_parts):
                break
        prefix = "".join(parts[:n]) or "<root>"
        groups[prefix] = groups.get(prefix, 0) + 1
    shown = [
        prefix if count == 1 else f"{prefix} ({count} leaves)"
        for prefix, count in list(groups.items())[:6]
    ]
    more = f", ... ({len(groups) - 6} more)" if len(groups) > 6 else ""
    return f"[{', '.join(shown)}{more}]" if paths else "none"


def _structure_message(saved: list[dict], current: list[dict]) -> str:
    saved_paths = [d["path"] for d in saved]
    current_paths = [d["path"] for d in current]
    only_saved = [p for p in saved_paths if p not in set(current_paths)]
    only_current = [p for p in current_paths if p not in set(saved_paths)]
    pairs = itertools.zip_longest(saved_paths, current_paths)
    index, (first_saved, first_current) = next(
        (i, pair) for i, pair in enumerate(pairs) if pair[0] != pair[1]
    )
    show = lambda p: "nothing" if p is None else (p or "<root>")  # noqa: E731
    return (
        f"the checkpoint has {len(saved)} leaves but the template has "
        f"{len(current)}; the first difference is leaf #{index}, "
        f"{show(first_saved)} in the checkpoint but {show(first_current)} in the "
        f"template; only in the checkpoint: {_subtrees(only_saved, current_paths)}; "
        f"only in the template: {_subtrees(only_current, saved_paths)} "
        "(a different optimizer, model or loss terms?). Build the template exactly "
        "as the saved state was built."
    )


def mismatch(saved: list[dict], current: list[dict]) -> str | None:
    """Why leaf descriptions `saved` (checkpoint) and `current` (template) differ.

    Names the first differing leaf; `None` if they agree.
    """
    if [d["path"] for d in saved] != [d["path"] for d in current]:
        return _structure_message(saved, current)
    for old, new in zip(saved, current, strict=True):
        if (old["shape"], old["dtype"]) == (new["shape"], new["dtype"]):
            continue
        if old["shape"] != new["shape"] and None not in (old["shape"], new["shape"]):
            hint = "(different architecture?)"
        elif old["shape"] is None or new["shape"] is None:
            hint = "(different model structure?)"
        else:
            hint = (
                "(different precision? Build the template in the checkpoint's dtype, "
                "e.g. with the same dtype= and jax_enable_x64 setting)"
            )
        return (
            f"leaf {new['path'] or '<root>'} has {_show(old)} in the checkpoint but "
            f"{_show(new)} in the template {hint}"
        )
    return None
