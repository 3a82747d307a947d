"""``make_step``: one pure optimizer step on a ``TrainState``."""

from collections.abc import Callable, Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, PyTree

from .._custom_types import Args
from .._dtypes import float_dtype
from .._errors import bad_argument
from ._state import TrainState, check_loss

Step = Callable[[TrainState, PyTree, Args], tuple[TrainState, dict[str, Array]]]


def _stored_value_and_grad(where: str, opt_state):
    value, grad = optax.tree.get(opt_state, "value"), optax.tree.get(opt_state, "grad")
    if value is None or grad is None:
        raise bad_argument(
            where,
            "an optimizer whose state stores `value` and `grad` (optax.lbfgs)",
            type(opt_state).__name__,
            "Use reuse_value=False for other optimizers.",
        )
    return value, grad


def make_step(
    loss, optimizer: optax.GradientTransformation, *, reuse_value: bool = False
) -> Step:
    r"""Build a pure training step `step(state, batch, args=None) -> (state, metrics)`.

    One step evaluates $\mathcal{L}(\theta) = \sum_k w_k \mathcal{L}_k(\theta)$ and
    its gradient with one reverse pass (`jax.value_and_grad` of the total, not one
    gradient per term), then applies
    `updates = optimizer.update(grads, opt_state, params, value=L, grad=grads,
    value_fn=...)` and `optax.apply_updates`. The extra keyword arguments are what
    line-search optimizers such as `optax.lbfgs` need; other optax transformations
    ignore them, so any optax optimizer works unchanged.

    **Arguments:**

    - `loss`: a `CompositeLoss` from `pinnlib.losses.combine`.
    - `optimizer`: an optax `GradientTransformation` (the same one used in
      `pinnlib.init_state`).
    - `reuse_value`: for line-search optimizers (`optax.lbfgs`) on *fixed* points:
      take the loss and gradient at the current parameters from the line search of
      the previous step (where they were already computed) instead of recomputing
      them; the per-term values are then a forward evaluation only. This saves about
      one gradient evaluation per step. Do not combine with resampling (the stored
      values belong to the previous points). Keyword-only.

    **Returns:** `step(state, batch, args=None)`, pure and jittable, where `batch` is a
    dict `{term: points}` and `metrics` is `{"loss": total, term: value, ...}`, all
    evaluated at the parameters *before* the update.

    !!! example

        ```python
        step = pl.make_step(loss, optax.adam(1e-3))
        state, metrics = eqx.filter_jit(step)(state, batch, {"nu": 0.01 / jnp.pi})
        ```
    """
    check_loss("pinnlib.make_step(loss=...)", loss)
    if not hasattr(optimizer, "update") or not hasattr(optimizer, "init"):
        raise bad_argument(
            "pinnlib.make_step(optimizer=...)",
            "an optax GradientTransformation",
            type(optimizer).__name__,
            "Pass e.g. optax.adam(1e-3) or optax.lbfgs().",
        )
    optimizer = optax.with_extra_args_support(optimizer)

    def step(
        state: TrainState, batch: Mapping, args: Args = None
    ) -> tuple[TrainState, dict[str, Float[Array, ""]]]:
        params, static = eqx.partition(state.model, eqx.is_inexact_array)

        def evaluate(p):
            return loss(eqx.combine(p, static), batch, state.weights, args)

        def value_fn(trial):
            # Line searches (optax.lbfgs) may form trial points in a wider dtype
            # (float64 step sizes under x64); evaluate them in the model's dtypes.
            return evaluate(
                jax.tree.map(lambda t, p: t.astype(p.dtype), trial, params)
            )[0]

        if reuse_value:
            stored, stored_grad = _stored_value_and_grad(
                "pinnlib.make_step(reuse_value=True)", state.opt_state
            )
            total, grads = jax.lax.cond(
                jnp.isfinite(stored),
                lambda: (
                    stored.astype(float_dtype(params) or stored.dtype),
                    stored_grad,
                ),
                lambda: jax.value_and_grad(value_fn)(params),
            )
            terms = evaluate(params)[1]
        else:
            (total, terms), grads = jax.value_and_grad(evaluate, has_aux=True)(params)
        updates, opt_state = optimizer.update(
            grads, state.opt_state, params, value=total, grad=grads, value_fn=value_fn
        )
        model = eqx.combine(optax.apply_updates(params, updates), static)
        new_state = eqx.tree_at(
            lambda s: (s.model, s.opt_state, s.step),
            state,
            (model, opt_state, state.step + 1),
        )
        return new_state, {"loss": total, **terms}

    return step
