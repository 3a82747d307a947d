"""Dtype helpers shared by every module: resolve a requested dtype, read a tree's."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._errors import bad_argument


def resolve_dtype(where: str, dtype) -> np.dtype:
    """The float dtype to create: JAX's default float for ``None``, else ``dtype``.

    Raises rather than silently changing a requested dtype (e.g. float64 without x64).
    """
    if dtype is None:
        return np.dtype(jax.dtypes.canonicalize_dtype(jnp.float64))
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise bad_argument(
            f"{where}(dtype=...)",
            "a floating dtype",
            dtype,
            "Pass jnp.float32, jnp.float64 or None (JAX's default float).",
        ) from None
    if not jnp.issubdtype(dt, jnp.floating):
        raise bad_argument(
            f"{where}(dtype=...)",
            "a floating dtype",
            dt,
            "Points are real coordinates; pass jnp.float32 or jnp.float64.",
        )
    if np.dtype(jax.dtypes.canonicalize_dtype(dt)) != dt:
        raise bad_argument(
            f"{where}(dtype=...)",
            "a dtype JAX can create",
            dt,
            "Enable 64-bit floats with jax.config.update('jax_enable_x64', True), "
            "or pass jnp.float32.",
        )
    return dt


def float_dtype(tree) -> np.dtype | None:
    """The dtype of the first inexact array in ``tree`` (e.g. a model's parameters)."""
    for leaf in jax.tree.leaves(tree):
        if eqx.is_inexact_array(leaf):
            return leaf.dtype
    return None
