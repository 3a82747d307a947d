"""The training state: one pytree holding everything a run needs to continue."""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray, PyTree

from .._custom_types import PointFn
from .._dtypes import float_dtype, resolve_dtype
from .._errors import bad_argument
from ..losses import CompositeLoss
from ..sampling._base import sampling_key
from ._coefficients import Coefficient, check_coefficients


class TrainState(eqx.Module):
    """Everything that changes during training, as one pytree.

    Restoring this pytree resumes a run exactly: the collocation points are a pure
    function of `key` and `step` (see `pinnlib.draw_batch`).

    **Fields:**

    - `model`: the field (an equinox module / point function).
    - `opt_state`: the optax optimizer state for the model's inexact arrays.
    - `weights`: loss weights `{term: scalar}` (a pytree, so strategies can update it).
    - `key`: the PRNG key from which collocation points are redrawn.
    - `step`: the number of optimizer steps taken, an int32 scalar array.
    - `weighting_state`: the state of a loss-weighting strategy
      (`pinnlib.weighting`), or `None`.
    - `points`: the collocation points owned by a sampling strategy
      (`pinnlib.sampling`), `{term: (n, d)}`, or `None`.
    - `sampling_state`: that strategy's state, or `None`.
    - `coefficients`: trainable coefficients `{name: pinnlib.trainable(...)}`
      learned with the model (an inverse problem), or `None`.

    !!! example

        ```python
        state = pl.init_state(u, optax.adam(1e-3), loss, key=jax.random.key(1))
        int(state.step)    # 0
        state.weights      # {"pde": 1.0, "bc": 1.0, "ic": 1.0}
        ```
    """

    model: PointFn
    opt_state: PyTree
    weights: dict[str, Float[Array, ""]]
    key: PRNGKeyArray
    step: Int[Array, ""]
    weighting_state: PyTree = None
    points: dict[str, Float[Array, "_n _d"]] | None = None
    sampling_state: PyTree = None
    coefficients: dict[str, Coefficient] | None = None


def trainables(model, coefficients) -> PyTree:
    """What the optimizer updates: the model's inexact arrays (and the coefficients').

    Without trainable coefficients this is `eqx.filter(model, eqx.is_inexact_array)`,
    so optimizer states are as in plain optax; with them, the pair
    `(model params, coefficient params)`.
    """
    params = eqx.filter(model, eqx.is_inexact_array)
    if not coefficients:
        return params
    return params, eqx.filter(coefficients, eqx.is_inexact_array)


def check_loss(where: str, loss) -> None:
    """Raise unless `loss` is a `CompositeLoss` (its term names key weights and batch)."""
    if not isinstance(loss, CompositeLoss):
        raise bad_argument(
            where,
            "a CompositeLoss from pinnlib.losses.combine",
            type(loss).__name__,
            "Build the loss with pl.losses.combine(name=term, ...).",
        )


def init_state(
    model: PointFn,
    optimizer: optax.GradientTransformation,
    loss,
    *,
    key: PRNGKeyArray,
    weights: dict | None = None,
    weighting=None,
    sampling=None,
    coefficients: dict[str, Coefficient] | None = None,
    where: str = "pinnlib.init_state",
) -> TrainState:
    r"""Build the initial `TrainState` for `model`, `optimizer` and `loss`.

    The `init` of `pinnlib.training(loss, optimizer, ...)`, which also gives the
    matching step: prefer it, so the optimizer and strategies are given once.

    The optimizer is initialised on the model's inexact arrays,
    `optimizer.init(eqx.filter(model, eqx.is_inexact_array))`; the weights default to
    one per loss term, in the model's float dtype.

    **Arguments:**

    - `model`: the field to train.
    - `optimizer`: any optax transformation (`optax.adam(1e-3)`, `optax.lbfgs()`, ...).
    - `loss`: the `CompositeLoss` from `pinnlib.losses.combine` (for the term names).
    - `key`: PRNG key for redrawing collocation points (keyword-only).
    - `weights`: initial loss weights, `{term: scalar}` (keyword-only, optional).
    - `weighting`: a `pinnlib.weighting` strategy whose state to initialise from the
      weights (keyword-only, optional; pass the same one to `make_step`).
    - `sampling`: a `pinnlib.sampling` strategy whose initial points and state to
      draw, from a key derived from `key` (keyword-only, optional; pass the same
      one to `make_step`).
    - `coefficients`: trainable coefficients `{name: pinnlib.trainable(...)}`,
      optimized with the model, converted to the model's float dtype (keyword-only,
      optional).
    - `where`: the name errors give for this call (keyword-only; for wrappers).

    **Returns:** a `TrainState` with `step = 0`.

    !!! example

        ```python
        state = pl.init_state(u, optax.adam(1e-3), loss, key=jax.random.key(1))
        ```
    """
    check_loss(f"{where}(loss=...)", loss)
    coefficients = check_coefficients(f"{where}(coefficients=...)", coefficients)
    dtype = float_dtype(eqx.filter(model, eqx.is_inexact_array))
    if coefficients is not None and dtype is not None:
        # In the model's dtype, like the weights: a float64 default (under x64)
        # must not turn a float32 model's loss into float64.
        coefficients = jax.tree.map(lambda c: c.astype(dtype), coefficients)
    given: dict = loss.init_weights(dtype) if weights is None else weights
    if set(given) != set(loss.names):
        raise bad_argument(
            f"{where}(weights=...)",
            f"a dict with keys {sorted(loss.names)}",
            sorted(given),
            "Give one weight per loss term.",
        )
    weights = {k: jnp.asarray(v, dtype) for k, v in given.items()}
    points, sampling_state = None, None
    if sampling is not None:
        points, sampling_state = sampling.init(sampling_key(key, 0))
        unknown = sorted(set(points) - set(loss.names))
        if unknown:
            raise bad_argument(
                f"{where}(sampling=...)",
                f"a strategy owning points of the loss terms {sorted(loss.names)}",
                unknown,
                "Name the strategy's term as in pl.losses.combine(...).",
            )
    return TrainState(
        model=model,
        opt_state=optimizer.init(trainables(model, coefficients)),
        weights=weights,
        key=key,
        step=jnp.zeros((), jnp.int32),
        weighting_state=None if weighting is None else weighting.init(weights),
        points=points,
        sampling_state=sampling_state,
        coefficients=coefficients,
    )


def switch_optimizer(
    state: TrainState, optimizer: optax.GradientTransformation, *, dtype=None
) -> TrainState:
    r"""Continue training `state` with another optimizer (e.g. Adam, then L-BFGS).

    The model, loss weights, key and step count carry over; the optimizer state is
    initialised afresh for `optimizer`. Build the matching step with
    `pinnlib.make_step(loss, optimizer)`.

    With `dtype`, the model's floating arrays, the loss weights and the points of a
    sampling strategy (`state.points`) are converted first, e.g. to float64 for a
    final L-BFGS or Gauss–Newton phase after a fast float32 Adam phase (which needs
    `jax_enable_x64`; sample the next phase's other points in that dtype too).

    **Arguments:** `state`; `optimizer`; `dtype`: optional float dtype for the model
    and weights (keyword-only).

    **Raises:** `ValueError` for a dtype that is not floating, or float64 without x64.

    !!! example

        ```python
        lbfgs = optax.lbfgs()
        state = pl.switch_optimizer(adam_result.state, lbfgs)
        result = pl.fit(pl.make_step(loss, lbfgs), state, batch, 5000)

        # float64 from here on (with jax.config.update("jax_enable_x64", True))
        state = pl.switch_optimizer(adam_result.state, lbfgs, dtype=jnp.float64)
        ```
    """
    if dtype is not None:
        dtype = resolve_dtype("pinnlib.switch_optimizer", dtype)
        cast = lambda x: x.astype(dtype) if eqx.is_inexact_array(x) else x  # noqa: E731
        state = eqx.tree_at(
            lambda s: (s.model, s.weights, s.points, s.coefficients),
            state,
            tuple(
                jax.tree.map(cast, x)
                for x in (state.model, state.weights, state.points, state.coefficients)
            ),
            is_leaf=lambda x: x is None,
        )
    params = trainables(state.model, state.coefficients)
    return eqx.tree_at(lambda s: s.opt_state, state, optimizer.init(params))
