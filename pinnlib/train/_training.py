"""One training definition: the loss, optimizer and strategies, giving init and step."""

from collections.abc import Callable
from typing import NamedTuple, cast

import equinox as eqx
import optax
from jaxtyping import PRNGKeyArray

from .._custom_types import PointFn
from ._coefficients import Coefficient
from ._state import TrainState, init_state, switch_optimizer
from ._step import Step, build_step


class Training(NamedTuple):
    r"""A training set-up as one value: `init`, `step` and `switch`, pure functions.

    Made by `pinnlib.training`. Like an optax `GradientTransformation`, it is a named
    tuple of pure functions built once from the loss, the optimizer and any
    strategies, so the state and the step can never disagree:

    - `init(model, *, key, weights=None, coefficients=None) -> TrainState`: the
      initial state (optimizer state, unit loss weights, the strategies' states and
      points, trainable coefficients).
    - `step(state, batch, args=None) -> (state, metrics)`: one pure optimizer step
      (see `pinnlib.make_step` for what it computes and records).
    - `switch(state, *, dtype=None) -> TrainState`: continue a state from another
      phase with this set-up (a fresh optimizer state, and a fresh weighting state
      if this set-up has a weighting strategy), optionally converted to `dtype`.

    The step checks the state it is given: an optimizer state of another optimizer
    (an Adam state given to an L-BFGS step) raises a `TypeError` naming both.

    !!! example

        ```python
        adam = pl.training(loss, optax.adam(1e-3))
        state = adam.init(u, key=jax.random.key(0))
        state, metrics = jax.jit(adam.step)(state, batch, {"nu": 0.01})
        ```
    """

    init: Callable[..., TrainState]
    step: Step
    switch: Callable[..., TrainState]


def training(
    loss,
    optimizer: optax.GradientTransformation,
    *,
    weighting=None,
    update_every: int = 1,
    sampling=None,
    sample_every: int = 1,
    reuse_value: bool = False,
) -> Training:
    r"""Define a training set-up once: the initial state and the step, from one value.

    The step minimises $\mathcal{L}(\theta) = \sum_k w_k \mathcal{L}_k(\theta)$ with
    `optimizer`, over the model's parameters and any trainable coefficients; a
    weighting strategy updates the $w_k$ every `update_every` steps and a sampling
    strategy refreshes its points every `sample_every` steps, both inside the
    compiled loop. See `pinnlib.make_step` for the details of one step.

    Phases compose from several definitions: build one per phase and move the state
    on with `switch`.

    **Arguments:**

    - `loss`: a `CompositeLoss` from `pinnlib.losses.combine`.
    - `optimizer`: any optax transformation, including chains and wrappers
      (`optax.chain(optax.clip_by_global_norm(1.0), pl.optim.gauss_newton())`):
      least-squares optimizers find the residual and its Jacobian in the keyword
      arguments every step passes.
    - `weighting`, `update_every`: a `pinnlib.weighting` strategy and its period.
    - `sampling`, `sample_every`: a `pinnlib.sampling` strategy and its period.
    - `reuse_value`: reuse the line search's value and gradient (`optax.lbfgs` on
      fixed points; see `pinnlib.make_step`).

    **Returns:** a `Training` `(init, step, switch)`.

    **Raises:** `ValueError` for a loss that is not a `CompositeLoss`, an optimizer
    that is not an optax transformation, non-positive periods, or `reuse_value` with
    a sampling strategy.

    !!! example

        ```python
        adam = pl.training(loss, optax.adam(1e-3))
        state = adam.init(u, key=jax.random.key(0))
        result = pl.fit(adam, state, sampler, 2000, args={"nu": nu})

        lbfgs = pl.training(loss, optax.lbfgs())   # then L-BFGS, in float64
        state = lbfgs.switch(result.state, dtype=jnp.float64)
        ```
    """
    step = build_step(
        loss,
        optimizer,
        reuse_value=reuse_value,
        weighting=weighting,
        update_every=update_every,
        sampling=sampling,
        sample_every=sample_every,
    )

    def init(
        model: PointFn,
        *,
        key: PRNGKeyArray,
        weights: dict | None = None,
        coefficients: dict[str, Coefficient] | None = None,
    ) -> TrainState:
        return init_state(
            model,
            optimizer,
            loss,
            key=key,
            weights=weights,
            weighting=weighting,
            sampling=sampling,
            coefficients=coefficients,
            where="pinnlib.training(...).init",
        )

    def switch(state: TrainState, *, dtype=None) -> TrainState:
        state = switch_optimizer(state, optimizer, dtype=dtype)
        strategy_state = None if weighting is None else weighting.init(state.weights)
        points, sampling_state = state.points, state.sampling_state
        if sampling is not None and points is None:
            fresh = init_state(
                state.model, optimizer, loss, key=state.key, sampling=sampling
            )
            points, sampling_state = fresh.points, fresh.sampling_state
        return eqx.tree_at(
            lambda s: (s.weighting_state, s.points, s.sampling_state),
            state,
            (strategy_state, points, sampling_state),
            is_leaf=lambda x: x is None,
        )

    return Training(init, step, switch)


def step_of(where: str, training) -> Step:
    """The step of a `Training`, or `training` itself if it is a step function."""
    step = training.step if isinstance(training, Training) else training
    if not callable(step):
        raise TypeError(
            f"{where}: expected a pl.training(...) value or a step function, got "
            f"{type(training).__name__}. Build one with pl.training(loss, optimizer)."
        )
    return cast(Step, step)
