"""Scanned steps: ``run_steps`` (public building block) and the chunk ``fit`` runs."""

import functools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Bool, Int, PyTree

from .._custom_types import Args
from ._results import RESULTS
from ._state import TrainState
from ._step import Step


def run_steps(
    step: Step, state: TrainState, batch: PyTree, num_steps: int, *, args: Args = None
) -> tuple[TrainState, dict[str, Array]]:
    r"""Run `num_steps` steps of `step` on a fixed batch inside one `jax.lax.scan`.

    The manual-stepping building block of `pinnlib.fit`; jit it yourself
    (`eqx.filter_jit`, with `num_steps` static) to control compilation.

    **Arguments:** `step` from `pinnlib.make_step`; `state`; `batch` (a dict of point
    arrays); `num_steps` (a Python int); `args` (keyword-only).

    **Returns:** `(state, metrics)` with each metric stacked to shape `(num_steps,)`.

    Unlike `pinnlib.fit`, `run_steps` has no guard against non-finite values: a NaN
    loss or update is applied and propagates. Check `metrics` yourself, or use
    `fit` (which stops at the first non-finite step and keeps the last finite state).

    !!! example

        ```python
        run = eqx.filter_jit(pl.run_steps)
        state, metrics = run(step, state, batch, 1000, args={"nu": nu})
        ```
    """
    dynamic, static = eqx.partition(state, eqx.is_array)

    def body(carry, _):
        new_state, metrics = step(eqx.combine(carry, static), batch, args)
        return eqx.filter(new_state, eqx.is_array), metrics

    dynamic, metrics = jax.lax.scan(body, dynamic, None, length=num_steps)
    return eqx.combine(dynamic, static), metrics


def draw_batch(
    sampler: Callable, state: TrainState, resample_every: int | None
) -> PyTree:
    r"""The collocation batch in use at `state.step`: a pure function of key and step.

    $\text{batch} = \text{sampler}(\text{fold\_in}(\text{key}, \lfloor s / R \rfloor))$
    for resampling period $R$ (or $\lfloor\cdot\rfloor = 0$ without resampling), so a
    run resumed from a saved state redraws exactly the points it would have had.

    !!! example

        ```python
        batch = pl.draw_batch(sampler, state, resample_every=100)
        ```
    """
    period = 0 if not resample_every else state.step // resample_every
    return sampler(jax.random.fold_in(state.key, period))


def _all(flags) -> Bool[Array, ""]:
    return functools.reduce(jnp.logical_and, flags, jnp.asarray(True))


def _all_finite(values) -> Bool[Array, ""]:
    leaves = jax.tree.leaves(eqx.filter(values, eqx.is_inexact_array))
    return _all(jnp.all(jnp.isfinite(x)) for x in leaves)


def _became_nonfinite(old, new) -> Bool[Array, ""]:
    """Whether an entry that was finite in `old` is NaN or inf in `new`.

    Compared entry by entry so that optimizer states holding an infinite sentinel
    (`optax.lbfgs`'s initial `value`, `reduce_on_plateau`'s `best_value`) pass.
    """
    old, new = (eqx.filter(t, eqx.is_inexact_array) for t in (old, new))
    kept = jax.tree.map(
        lambda a, b: jnp.all(~jnp.isfinite(a) | jnp.isfinite(b)), old, new
    )
    return ~_all(jax.tree.leaves(kept))


def _skipped_on_purpose(opt_state) -> Bool[Array, ""]:
    """Whether `optax.apply_if_finite` rejected this update (`last_finite` False)."""
    found = optax.tree.get_all_with_path(opt_state, "last_finite")
    return ~_all(jnp.asarray(value, bool) for _, value in found)


def _guard(current: TrainState, new: TrainState, metrics: dict) -> Int[Array, ""]:
    """The result code of one step: `successful` (accept it) or why it is rejected.

    A step is accepted when the new model and optimizer state are finite and every
    metric is finite, or the optimizer skipped the update on purpose
    (`optax.apply_if_finite`; its parameters are then unchanged).
    """
    names = {"loss", *current.weights}
    loss_ok = _all_finite([v for k, v in metrics.items() if k in names])
    state_ok = _all_finite(new.model) & ~_became_nonfinite(
        current.opt_state, new.opt_state
    )
    accept = state_ok & (_all_finite(metrics) | _skipped_on_purpose(new.opt_state))
    failure = jnp.where(
        loss_ok, int(RESULTS.nonfinite_update), int(RESULTS.nonfinite_loss)
    )
    return jnp.where(accept, int(RESULTS.successful), failure).astype(jnp.int32)


@eqx.filter_jit
def _run_chunk(
    step: Step,
    sampler: Callable | None,
    state: TrainState,
    batch: PyTree,
    args: Args,
    num_active: Int[Array, ""],
    length: int,
    resample_every: int | None,
):
    """`length` scanned steps, guarded against non-finite values.

    Steps at index >= num_active are skipped (no-ops). A step whose metrics, model
    or optimizer state are non-finite (see `_guard`) is not applied: the state
    before it is kept, its code and step are recorded, and the remaining steps are
    skipped. With a sampler, `batch` is None and the points are derived from the
    state, so the compiled chunk's inputs have the same structure on every call.

    Returns `(state, metrics, code, failed_step)`; the failing step's metrics are in
    `metrics` at index `failed_step - state.step`.
    """
    dynamic, static = eqx.partition(state, eqx.is_array)
    if sampler is not None:
        batch = draw_batch(sampler, state, resample_every)

    def advance(dyn, batch, code, failed):
        current = eqx.combine(dyn, static)
        if sampler is not None and resample_every:
            batch = jax.lax.cond(
                current.step % resample_every == 0,
                lambda: draw_batch(sampler, current, resample_every),
                lambda: batch,
            )
        new_state, metrics = step(current, batch, args)
        code = _guard(current, new_state, metrics)
        ok = code == int(RESULTS.successful)
        new_dyn = eqx.filter(new_state, eqx.is_array)
        dyn = jax.lax.cond(ok, lambda: new_dyn, lambda: dyn)
        return dyn, batch, code, jnp.where(ok, failed, current.step), metrics

    def skip(dyn, batch, code, failed):
        metrics = jax.eval_shape(lambda: advance(dyn, batch, code, failed)[-1])
        nan = jax.tree.map(lambda m: jnp.full(m.shape, jnp.nan, m.dtype), metrics)
        return dyn, batch, code, failed, nan

    def body(carry, index):
        go = (index < num_active) & (carry[2] == int(RESULTS.successful))
        *carry, metrics = jax.lax.cond(go, advance, skip, *carry)
        return tuple(carry), metrics

    init = (dynamic, batch, jnp.int32(int(RESULTS.successful)), jnp.int32(-1))
    (dynamic, _, code, failed), metrics = jax.lax.scan(body, init, jnp.arange(length))
    return eqx.combine(dynamic, static), metrics, code, failed
