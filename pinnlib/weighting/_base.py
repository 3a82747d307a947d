"""The protocol of loss-weighting strategies: an optax-style `(init, update)` pair."""

import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int, PyTree

from .._custom_types import Args, PointFn

Weights = dict[str, Float[Array, ""]]


class WeightingContext(NamedTuple):
    """What a strategy's `update` sees at a step (all at the parameters before it).

    **Fields:** `loss` (the `CompositeLoss`), `model`, `batch`, `args`, `terms`
    (`{name: unweighted value}`), `weights` (the current weights), `step` (int32
    scalar).

    !!! example

        ```python
        def update(state, context):
            return {k: 1 / (v + 1e-8) for k, v in context.terms.items()}, state
        ```
    """

    loss: Any
    model: PointFn
    batch: Mapping
    args: Args
    terms: Weights
    weights: Weights
    step: Int[Array, ""]


class WeightingStrategy(NamedTuple):
    r"""A loss-weighting strategy: `init(weights) -> state`, `update(state, context)`.

    Like an optax transformation, a strategy is a pair of pure functions.
    `init(weights)` builds its state from the initial weights; `update(state,
    context)` returns `(new_weights, new_state)` from a `WeightingContext`. Pass it
    to `pinnlib.init_state(..., weighting=...)` and `pinnlib.make_step(...,
    weighting=..., update_every=k)`: the step calls `update` every `k` steps inside
    the compiled loop (a `lax.cond`, never a recompilation), and the new weights are
    used from the next step on, always under `stop_gradient`.

    !!! example

        ```python
        def inverse_loss(eps=1e-8):
            def init(weights):
                return None

            def update(state, context):
                new = {k: 1.0 / (v + eps) for k, v in context.terms.items()}
                return pl.weighting.normalize(new), state

            return pl.weighting.WeightingStrategy(init, update)
        ```
    """

    init: Callable[[Weights], PyTree]
    update: Callable[[PyTree, WeightingContext], tuple[Weights, PyTree]]


def normalize(weights: Mapping[str, ArrayLike]) -> Weights:
    r"""Rescale weights to sum to the number of terms: $w_k \leftarrow K w_k / \sum_j w_j$.

    !!! example

        ```python
        pl.weighting.normalize({"a": 1.0, "b": 3.0})   # {"a": 0.5, "b": 1.5}
        ```
    """
    weights = {k: jnp.asarray(w) for k, w in weights.items()}
    total = sum(weights.values())
    return {k: len(weights) * w / total for k, w in weights.items()}


def term_gradient_norms(context: WeightingContext) -> Weights:
    r"""$\|\nabla_\theta \mathcal{L}_k\|_2$ for every term $k$ (one reverse pass each).

    !!! example

        ```python
        norms = pl.weighting.term_gradient_norms(context)   # {"pde": ..., "ic": ...}
        ```
    """
    params, static = eqx.partition(context.model, eqx.is_inexact_array)
    names = list(context.terms)

    def values(p):
        model = eqx.combine(p, static)
        return jnp.stack(
            [
                context.loss.terms[k](model, context.batch[k], context.args)
                for k in names
            ]
        )

    jac = jax.jacrev(values)(params)
    squares = functools.reduce(
        operator.add,
        (
            jnp.sum(jnp.square(j).reshape(len(names), -1), axis=1)
            for j in jax.tree.leaves(jac)
        ),
    )
    return {k: jnp.sqrt(squares[i]) for i, k in enumerate(names)}
