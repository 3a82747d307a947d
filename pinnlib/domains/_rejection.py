"""Fixed-count rejection sampling: jittable, never returns a rejected point."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, PRNGKeyArray

from .._errors import bad_argument, error_unless
from ._sequences import grid


class GridSequence:
    """A checked ``sequence`` that draws the built-in regular grid (a marker type).

    The sampling functions wrap the grid in it so that a domain that samples by
    rejection can refuse it: a grid cannot be thinned to a fixed count.
    """

    def __init__(self, fn: Callable[..., Array]):
        self.fn = fn

    def __call__(self, n: int, d: int, *, key: PRNGKeyArray, dtype) -> Array:
        return self.fn(n, d, key=key, dtype=dtype)


def mark_grid(method, sequence: Callable[..., Array]) -> Callable[..., Array]:
    """``sequence`` wrapped in a ``GridSequence`` when ``method`` is the grid."""
    is_grid = method is grid or (isinstance(method, str) and method == "grid")
    return GridSequence(sequence) if is_grid else sequence


def refuse_grid(where: str, sequence) -> None:
    """Raise a ``ValueError`` when ``sequence`` is the built-in grid."""
    if isinstance(sequence, GridSequence):
        raise bad_argument(
            f"{where}(method=...)",
            "a sequence that rejection sampling can thin ('uniform', "
            "'latin_hypercube', 'sobol', 'halton' or your own)",
            "grid",
            "A set operation (Union, Intersection, Difference) keeps a varying number "
            "of candidates, which a regular grid cannot give: use another method.",
        )


def rejection_sample(
    num_points: int,
    dim: int,
    draw: Callable[[PRNGKeyArray], Float[Array, "b d"]],
    accept: Callable[[Float[Array, "b d"]], Bool[Array, " b"]],
    *,
    key: PRNGKeyArray,
    max_rounds: int,
    dtype,
    what: str,
    shuffle: bool = False,
) -> Float[Array, "n d"]:
    """``num_points`` accepted candidates, in a fixed ``(n, d)`` buffer.

    Round ``i`` draws a batch of candidates ``draw(jax.random.fold_in(key, i))`` and
    keeps those with ``accept`` into the buffer by cumulative count, in a
    ``lax.while_loop`` until it is full. After ``max_rounds`` rounds without filling it
    the result is an ``eqx.error_if`` error naming ``what`` (the region is nearly
    empty). With ``shuffle`` each batch is permuted first (randomly, from the round's
    key), for batches made of parts in a fixed order (e.g. one part per operand), of
    which the last ones would otherwise be dropped when the buffer fills.
    """

    def cond(state):
        i, count, _ = state
        return (count < num_points) & (i < max_rounds)

    def body(state):
        i, count, buffer = state
        round_key = jax.random.fold_in(key, i)
        if shuffle:
            round_key, order_key = jax.random.split(round_key)
        candidates = draw(round_key)
        ok = accept(candidates)
        if shuffle:
            order = jax.random.permutation(order_key, len(candidates))
            candidates, ok = candidates[order], ok[order]
        position = count + jnp.cumsum(ok, dtype=jnp.int32) - 1
        index = jnp.where(ok & (position < num_points), position, num_points)
        buffer = buffer.at[index].set(candidates, mode="drop")
        count = jnp.minimum(count + jnp.sum(ok, dtype=jnp.int32), num_points)
        return i + 1, count, buffer

    init = (
        jnp.asarray(0, jnp.int32),
        jnp.asarray(0, jnp.int32),
        jnp.zeros((num_points, dim), dtype),
    )
    _, count, points = jax.lax.while_loop(cond, body, init)
    return error_unless(
        points,
        count == num_points,
        f"{what}: rejection sampling found too few points after {max_rounds} rounds "
        "of candidates: the region (or face) is empty or nearly so. Check the "
        "operands of the set operation.",
    )
