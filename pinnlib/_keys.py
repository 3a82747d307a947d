"""Typed PRNG keys (`jax.random.key`): recognising them, and moving their raw data."""

from collections.abc import Callable

import jax
import jax.numpy as jnp


def is_key(leaf) -> bool:
    """Whether `leaf` is a typed PRNG key array (from `jax.random.key`)."""
    return isinstance(leaf, jax.Array | jax.ShapeDtypeStruct) and (
        jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)
    )


def through_key_data(fn: Callable[[jax.Array], jax.Array], key: jax.Array):
    """`fn` applied to the raw data of the typed keys `key`, wrapped again as keys.

    For operations that take plain integer arrays only (placement across processes,
    gathers); the keys keep their implementation.
    """
    data = fn(jax.random.key_data(key))
    return jax.random.wrap_key_data(data, impl=jax.random.key_impl(key))


__all__ = ["is_key", "through_key_data"]
