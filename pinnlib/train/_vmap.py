"""Periodic work that costs the same under `jax.vmap` as without it."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from equinox.internal import unvmap_any
from jaxtyping import Array, Bool, PyTree


def where(due: Bool[Array, ""], new: PyTree, old: PyTree) -> PyTree:
    """`new` where this member is `due`, else `old` (a select, member by member)."""
    return jax.tree.map(lambda n, o: jnp.where(due, n, o), new, old)


def periodic(due: Bool[Array, ""], update: Callable[[], PyTree], old: PyTree) -> PyTree:
    """`update()` if `due`, else `old`, paying for the update only when it is due.

    Inside `jax.vmap`, a `lax.cond` on a batched predicate becomes a select that runs
    the update at every step. Here the `cond` is on whether *any* member is due
    (`equinox.internal.unvmap_any`, which is not batched), and members that are not
    due keep `old`: a strategy updated every k steps costs the same under vmap as
    without it, and each member still follows its own schedule.
    """
    return jax.lax.cond(unvmap_any(due), lambda: where(due, update(), old), lambda: old)
