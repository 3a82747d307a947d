"""Scanned steps: ``run_steps`` (public building block) and the chunk ``fit`` runs."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Int, PyTree

from .._custom_types import Args
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
    """`length` scanned steps; steps at index >= num_active are skipped (no-ops).

    With a sampler, `batch` is None and the points are derived from the state, so
    the compiled chunk's inputs have the same structure on every call.
    """
    dynamic, static = eqx.partition(state, eqx.is_array)
    if sampler is not None:
        batch = draw_batch(sampler, state, resample_every)

    def advance(dyn, batch):
        current = eqx.combine(dyn, static)
        if sampler is not None and resample_every:
            batch = jax.lax.cond(
                current.step % resample_every == 0,
                lambda: draw_batch(sampler, current, resample_every),
                lambda: batch,
            )
        new_state, metrics = step(current, batch, args)
        return eqx.filter(new_state, eqx.is_array), batch, metrics

    def skip(dyn, batch):
        metrics = jax.eval_shape(lambda: advance(dyn, batch)[2])
        return (
            dyn,
            batch,
            jax.tree.map(lambda m: jnp.full(m.shape, jnp.nan, m.dtype), metrics),
        )

    def body(carry, index):
        dyn, batch = carry
        dyn, batch, metrics = jax.lax.cond(
            index < num_active, advance, skip, dyn, batch
        )
        return (dyn, batch), metrics

    (dynamic, _), metrics = jax.lax.scan(body, (dynamic, batch), jnp.arange(length))
    return eqx.combine(dynamic, static), metrics
