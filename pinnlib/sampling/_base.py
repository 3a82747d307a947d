"""The protocol of sampling strategies: an optax-style `(init, update)` pair."""

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray, PyTree

from .._custom_types import Args, PointFn
from .._errors import bad_argument
from ..losses._least_squares import LeastSquaresTerm
from ..losses._terms import _residual_at

Points = dict[str, Float[Array, "n d"]]

# Sampling strategies draw from `fold_in(fold_in(state.key, _SALT), step)`, a stream
# apart from the one `pinnlib.draw_batch` uses (`fold_in(state.key, period)`).
_SALT = 0x5A3C


class SamplingContext(NamedTuple):
    """What a sampling strategy's `update` sees at a step (before the step is taken).

    **Fields:** `loss` (the `CompositeLoss`), `model`, `args`, `key` (a fresh PRNG
    key for this update, a pure function of the state's key and the step), `step`
    (int32 scalar), `points` (the strategy's current points, `{term: (n, d)}`).

    !!! example

        ```python
        def update(state, context):
            fresh = sampler(context.key)["pde"]
            return {"pde": fresh}, state
        ```
    """

    loss: Any
    model: PointFn
    args: Args
    key: PRNGKeyArray
    step: Int[Array, ""]
    points: Points


class SamplingStrategy(NamedTuple):
    r"""A sampling strategy: `init(key) -> (points, state)`, `update(state, context)`.

    Like an optax transformation, a strategy is a pair of pure functions that owns
    the collocation points of one or more loss terms. `init(key)` returns the
    initial points `{term: (n, d)}` and the strategy's state; `update(state,
    context)` returns `(new_points, new_state)` from a `SamplingContext`. Every
    array keeps its shape, so points change inside the compiled loop without a
    recompilation.

    Pass the strategy to `pinnlib.init_state(..., sampling=...)` (which stores the
    points and state in `TrainState.points` / `TrainState.sampling_state`, so they
    are checkpointed and resumed with the rest) and to `pinnlib.make_step(...,
    sampling=..., sample_every=k)`: the step calls `update` at steps $k, 2k, \dots$
    (a `lax.cond`) before evaluating the loss, and the strategy's points replace
    those of the same names in the batch it is given.

    !!! example

        ```python
        def fresh_uniform(sampler, term):
            # redraw `term`'s points from `sampler` at every update: ~10 lines
            def init(key):
                return {term: sampler(key)[term]}, None

            def update(state, context):
                return {term: sampler(context.key)[term]}, state

            return pl.sampling.SamplingStrategy(init, update)
        ```
    """

    init: Callable[[PRNGKeyArray], tuple[Points, PyTree]]
    update: Callable[[PyTree, SamplingContext], tuple[Points, PyTree]]


def sampling_key(key: PRNGKeyArray, step) -> PRNGKeyArray:
    """The key a strategy gets at `step`: a pure function of both.

    `init` gets the key of step 0; updates happen at steps > 0.
    """
    return jax.random.fold_in(jax.random.fold_in(key, _SALT), step)


def check_candidates(where: str, candidates) -> None:
    """Raise unless `candidates` is callable (a sampler key -> {name: points})."""
    if not callable(candidates):
        raise bad_argument(
            f"{where}(candidates=...)",
            "a sampler key -> {name: (n, d) points}",
            type(candidates).__name__,
            "Build one with pl.domains.sampler(domain, pde=('interior', 1000)).",
        )


def draw_set(where: str, sampler: Callable, key: PRNGKeyArray, term: str) -> Array:
    """Points of set `term` from `sampler(key)` (a dict of sets, or one array)."""
    drawn = sampler(key)
    if isinstance(drawn, dict):
        if term not in drawn:
            raise bad_argument(
                f"{where}(candidates=...)",
                f"a sampler that draws a set named {term!r}",
                sorted(drawn),
                f"Name the candidate set {term!r}, e.g. "
                f"pl.domains.sampler(domain, {term}=('interior', 10_000)).",
            )
        drawn = drawn[term]
    if getattr(drawn, "ndim", None) != 2:
        raise bad_argument(
            f"{where}(candidates=...)",
            "points of shape (n, d)",
            getattr(drawn, "shape", type(drawn).__name__),
            "Pass a sampler key -> {name: (n, d) points}.",
        )
    return drawn


def pointwise_residual(
    where: str, context: SamplingContext, term: str, pde, points: Array
) -> Float[Array, " n"]:
    r"""$|r(x_i)|$ at each point: of `pde` if given, else of the loss term's misfit."""
    if pde is not None:
        r = _residual_at(pde, context.model, points, context.args)
    else:
        found = context.loss.terms.get(term)
        if not isinstance(found, LeastSquaresTerm):
            raise bad_argument(
                f"{where}(pde=...)",
                f"a residual builder, since the loss term {term!r} keeps no "
                "per-point misfit",
                type(found).__name__,
                "Pass the PDE, e.g. pde=pl.pdes.allen_cahn (needed for causal terms).",
            )
        r = found.misfit(context.model, points, context.args)
    squares = jnp.square(r).reshape(points.shape[0], -1)
    return jnp.sqrt(jnp.sum(squares, axis=1))
