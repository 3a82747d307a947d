"""Exponential moving average of the parameters (Polyak–Ruppert averaging) as optax."""

from typing import NamedTuple

import equinox as eqx
import jax
import optax
from jaxtyping import PyTree

from .._errors import bad_argument


class AveragedState(NamedTuple):
    """State of `averaged`: the wrapped optimizer's state and the running average.

    **Fields:** `inner`, the wrapped optimizer's state; `average`, the averaged
    parameters (the same pytree as the parameters).

    !!! example

        ```python
        state = pl.init_state(u, pl.optim.averaged(optax.adam(1e-3)), loss, key=key)
        state.opt_state.average     # the model's parameters, averaged
        ```
    """

    inner: optax.OptState
    average: optax.Params


def averaged(
    optimizer: optax.GradientTransformation, decay: float = 0.999
) -> optax.GradientTransformationExtraArgs:
    r"""Wrap an optimizer so that its state also keeps a moving average of the iterates.

    Late in training with stochastic points, the iterates $\theta_k$ jitter around a
    minimiser by an amount set by the learning rate and the sampling noise. Their
    exponential moving average (Polyak & Juditsky 1992, "Acceleration of stochastic
    approximation by averaging"; in its exponential form, e.g. TensorFlow's
    `ExponentialMovingAverage`)

    $$\bar\theta_0 = \theta_0, \qquad
    \bar\theta_{k+1} = \beta\,\bar\theta_k + (1 - \beta)\,\theta_{k+1}$$

    averages that jitter out over about $1/(1-\beta)$ steps. Training itself is
    unchanged (the updates are the wrapped optimizer's); evaluate the averaged
    parameters with `averaged_model`. The average lives in the optimizer state, so it
    is checkpointed and resumed with the rest of the `TrainState`.

    **Arguments:**

    - `optimizer`: any optax transformation (including `optax.inject_hyperparams`
      ones; the learning rate is still logged).
    - `decay`: $\beta \in [0, 1)$; `0.999` averages over about the last 1000 steps.

    **Returns:** an `optax.GradientTransformationExtraArgs` whose state is an
    `AveragedState(inner, average)`. Its `update` needs `params` (which
    `pinnlib.make_step` always passes).

    **Raises:** `ValueError` if `decay` is not in $[0, 1)$, or if `update` is called
    without `params`.

    !!! example

        ```python
        adam = pl.optim.averaged(optax.adam(1e-3), decay=0.999)
        state = pl.init_state(u, adam, loss, key=key)
        step = pl.make_step(loss, adam)
        ...
        u_avg = pl.optim.averaged_model(state)   # evaluate this one
        ```
    """
    if not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0:
        raise bad_argument(
            "pinnlib.optim.averaged(decay=...)",
            "a Python float in [0, 1)",
            decay,
            "Use e.g. decay=0.999 to average over about the last 1000 steps.",
        )
    inner = optax.with_extra_args_support(optimizer)
    decay = float(decay)

    def init(params):
        return AveragedState(inner.init(params), jax.tree.map(lambda p: p, params))

    def update(updates, state, params=None, **extra):
        if params is None:
            raise bad_argument(
                "pinnlib.optim.averaged(...).update(params=...)",
                "the current parameters",
                None,
                "Pass params, as pinnlib.make_step does.",
            )
        updates, inner_state = inner.update(updates, state.inner, params, **extra)
        new = optax.apply_updates(params, updates)
        average = jax.tree.map(
            lambda a, p: (decay * a + (1.0 - decay) * p).astype(a.dtype),
            state.average,
            new,
        )
        return updates, AveragedState(inner_state, average)

    return optax.GradientTransformationExtraArgs(init, update)


def averaged_model(state: PyTree) -> PyTree:
    r"""The model of a `TrainState` with its parameters replaced by their average.

    The state's optimizer must be (or contain) `averaged(...)`; the model's static
    parts (activations, sizes) are kept.

    **Arguments:** `state`: a `pinnlib.TrainState`.

    **Returns:** a model of the same structure as `state.model`.

    **Raises:** `ValueError` if no `AveragedState` is found in `state.opt_state`.

    !!! example

        ```python
        error = pl.metrics.rel_l2(pl.optim.averaged_model(state), grid, reference)
        ```
    """
    found = [
        s
        for s in jax.tree.leaves(
            state.opt_state, is_leaf=lambda s: isinstance(s, AveragedState)
        )
        if isinstance(s, AveragedState)
    ]
    if len(found) != 1:
        raise bad_argument(
            "pinnlib.optim.averaged_model(state)",
            "a TrainState whose optimizer is wrapped by pinnlib.optim.averaged",
            type(state.opt_state).__name__,
            "Build the optimizer as pl.optim.averaged(optimizer, decay) before "
            "pl.init_state.",
        )
    _, static = eqx.partition(state.model, eqx.is_inexact_array)
    return eqx.combine(found[0].average, static)
