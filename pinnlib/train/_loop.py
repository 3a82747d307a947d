"""Scanned steps: `run` (a whole guarded run), `run_steps`, and the chunk `fit` runs."""

import functools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from equinox.internal import unvmap_any
from jaxtyping import Array, Bool, Int, PyTree

from .._custom_types import Args
from .._errors import bad_argument, check_positive_int
from ..optim._new_points import for_new_points
from ._results import RESULTS
from ._state import TrainState
from ._step import Step
from ._training import step_of
from ._vmap import periodic, where


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


def check_resampling(where: str, resample_every, batch) -> None:
    """Raise unless `resample_every` is None, or a positive int with a sampler.

    A step-aware sampler (minibatches of a data set) needs it: without it every
    step would get the first batch.
    """
    if resample_every is None:
        if callable(getattr(batch, "at_step", None)):
            raise bad_argument(
                f"{where}(resample_every=...)",
                "a period for a step-aware sampler (minibatches)",
                None,
                "Pass resample_every=1 to take a new minibatch every step.",
            )
        return
    check_positive_int(f"{where}(resample_every=...)", resample_every)
    if not callable(batch):
        raise bad_argument(
            f"{where}(resample_every=...)",
            "a sampler as `batch`",
            type(batch).__name__,
            "Pass a sampler (key -> batch), e.g. pl.domains.sampler(...), to redraw.",
        )


def traced_args(args: Args) -> Args:
    """`args` with Python numbers as (weakly typed) arrays.

    Under `eqx.filter_jit` a Python number is static: each new value would compile
    anew. As an array it is traced, so new coefficient values reuse the program
    (and keep their weak dtype).
    """
    return jax.tree.map(
        lambda a: (
            jnp.asarray(a)
            if isinstance(a, int | float) and not isinstance(a, bool)
            else a
        ),
        args,
    )


def draw_batch(
    sampler: Callable, state: TrainState, resample_every: int | None
) -> PyTree:
    r"""The batch in use at `state.step`: a pure function of key and step.

    $\text{batch} = \text{sampler}(\text{fold\_in}(\text{key}, \lfloor s / R
    \rfloor))$ for resampling period $R$ (or $\lfloor\cdot\rfloor = 0$ without
    resampling), so a run resumed from a saved state redraws exactly the points it
    would have had. A step-aware sampler, one with a method `at_step(key, period)`
    (such as `pinnlib.data.minibatches`, whose epochs need the step count), is
    called as `sampler.at_step(key, \lfloor s / R \rfloor)` instead.

    !!! example

        ```python
        batch = pl.draw_batch(sampler, state, resample_every=100)
        ```
    """
    period = 0 if not resample_every else state.step // resample_every
    at_step = getattr(sampler, "at_step", None)
    if callable(at_step):
        return at_step(state.key, period)
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
    state_ok = _all_finite((new.model, new.coefficients)) & ~_became_nonfinite(
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
    code: Int[Array, ""],
):
    """`length` scanned steps, guarded against non-finite values.

    Steps at index >= num_active are skipped (no-ops), and so are all steps if
    `code` is not `successful` on entry. A step whose metrics, model or optimizer
    state are non-finite (see `_guard`) is not applied: the state before it is kept,
    its code and step are recorded, and the remaining steps are skipped. With a
    sampler, `batch` is None and the points are derived from the state, so the
    compiled chunk's inputs have the same structure on every call.

    Under `jax.vmap` each member has its own code and stops at its own failure; the
    steps run while any member is active, and resampling costs what it costs
    without vmap (see `periodic`).

    Returns `(state, metrics, code, failed_step)`; the failing step's metrics are in
    `metrics` at index `failed_step - state.step`.
    """
    dynamic, static = eqx.partition(state, eqx.is_array)
    if sampler is not None:
        batch = draw_batch(sampler, state, resample_every)
    success = int(RESULTS.successful)

    def advance(dyn, batch, code, failed, go):
        current = eqx.combine(dyn, static)
        # Under vmap, members that are not stepped (stopped by a non-finite step)
        # still compute alongside the others; their results are discarded. Step
        # -1 makes sure no periodic work is due for them, so they never trigger it.
        working = eqx.tree_at(
            lambda s: s.step, current, jnp.where(go, current.step, -1)
        )
        if sampler is not None and resample_every:
            due = working.step % resample_every == 0
            redraw = functools.partial(draw_batch, sampler, working, resample_every)
            batch = periodic(due, redraw, batch)
            # The optimizer's memory of the old loss (a stored value, a curvature
            # pair) does not hold for the new points.
            opt_arrays, opt_static = eqx.partition(working.opt_state, eqx.is_array)
            opt_arrays = periodic(
                due,
                lambda: eqx.filter(for_new_points(working.opt_state), eqx.is_array),
                opt_arrays,
            )
            working = eqx.tree_at(
                lambda s: s.opt_state, working, eqx.combine(opt_arrays, opt_static)
            )
        new_state, metrics = step(working, batch, args)
        step_code = _guard(current, new_state, metrics)
        ok = go & (step_code == success)
        new_dyn = eqx.filter(new_state, eqx.is_array)
        dyn = jax.lax.cond(ok, lambda: new_dyn, lambda: dyn)
        code = jnp.where(go, step_code, code)
        failed = jnp.where(go & ~ok, current.step, failed)
        metrics = where(go, metrics, _nan_like(metrics))
        return dyn, batch, code, failed, metrics

    def skip(dyn, batch, code, failed, go):
        metrics = jax.eval_shape(lambda: advance(dyn, batch, code, failed, go)[-1])
        return dyn, batch, code, failed, _nan_like(metrics)

    def body(carry, index):
        go = (index < num_active) & (carry[2] == success)
        *carry, metrics = jax.lax.cond(unvmap_any(go), advance, skip, *carry, go)
        return tuple(carry), metrics

    init = (dynamic, batch, jnp.asarray(code, jnp.int32), jnp.int32(-1))
    (dynamic, _, code, failed), metrics = jax.lax.scan(body, init, jnp.arange(length))
    return eqx.combine(dynamic, static), metrics, code, failed


# The chunk over a batch of states (an ensemble) driven by `pinnlib.fit`: the state
# and the result codes have a leading member axis; everything else is shared.
_run_members = eqx.filter_jit(
    eqx.filter_vmap(
        _run_chunk,
        in_axes=(None, None, eqx.if_array(0), None, None, None, None, None, 0),
    )
)


def _nan_like(metrics):
    return jax.tree.map(lambda m: jnp.full(m.shape, jnp.nan, m.dtype), metrics)


class Run(eqx.Module):
    """What `pinnlib.run` returns: the state, every step's metrics and how it ended.

    A pytree of arrays, so it is batched like its inputs under `jax.vmap`.

    **Fields:**

    - `state`: the final `TrainState`: after the last step, or the last finite state
      (before the failing step) if a step was non-finite.
    - `metrics`: `{name: (num_steps,)}`, the step's metrics (see
      `pinnlib.make_step`); NaN for steps not taken.
    - `result`: an int32 `pinnlib.RESULTS` code: `successful`, `nonfinite_loss` or
      `nonfinite_update` (`pinnlib.RESULTS(int(run.result))`).
    - `failed_step`: the step that was non-finite (int32), or -1.

    !!! example

        ```python
        out = pl.run(training, state, batch, 1000, args={"nu": nu})
        out.state, out.metrics["loss"], pl.RESULTS(int(out.result))
        ```
    """

    state: TrainState
    metrics: dict[str, Array]
    result: Int[Array, ""]
    failed_step: Int[Array, ""]


def run(
    training,
    state: TrainState,
    batch: PyTree | Callable,
    num_steps: int,
    *,
    args: Args = None,
    resample_every: int | None = None,
    result: Int[Array, ""] | int = 0,
) -> Run:
    r"""A whole guarded training run as one pure, compiled function that transforms.

    Runs `num_steps` steps of `training` inside one `jax.lax.scan`, with the
    non-finite guard of `pinnlib.fit`: a step whose loss, terms, model or optimizer
    state is NaN or infinite is not applied, the run keeps the last finite state
    and records why (`Run.result`) and where (`Run.failed_step`), and the remaining
    steps are skipped. With a sampler as `batch`, the points are redrawn from
    `state.key` every `resample_every` steps inside the scan
    (`pinnlib.draw_batch`). Weighting and sampling strategies update on their own
    schedules, by the global step count `state.step`.

    It transforms: `jax.vmap` / `eqx.filter_vmap` it over a batch of states (seeds,
    initialisations: an ensemble), of `args` (a coefficient sweep) or of optimizer
    hyper-parameters (`optax.inject_hyperparams`), and every member gives the
    numbers of its own unbatched run. Each member keeps its own result code and
    stops being updated at its own first non-finite step while the others go on.
    Periodic work (strategy updates, resampling) runs under a `lax.cond` on whether
    any member is due, so it costs the same under vmap as without it.

    **Arguments:**

    - `training`: a `pinnlib.training(...)` value (or a step function from
      `pinnlib.make_step`).
    - `state`: the `TrainState` to start from.
    - `batch`: fixed points `{term: (n, d)}`, or a sampler `key -> batch`.
    - `num_steps`: a Python int (static).
    - `args`: coefficients for the loss (keyword-only). Python numbers are traced
      as arrays, so a new value reuses the compiled run.
    - `resample_every`: redraw a sampler's points every this many steps (static).
    - `result`: the code of an earlier run of this state; a state whose code is
      not `successful` (0) is not stepped (keyword-only).

    **Returns:** a `Run` (state, metrics, result, failed_step).

    !!! example

        ```python
        training = pl.training(loss, optax.adam(1e-3))
        keys = jax.random.split(jax.random.key(0), 8)
        states = eqx.filter_vmap(
            lambda k: training.init(pl.nn.mlp(2, width=32, depth=3, key=k), key=k)
        )(keys)
        runs = eqx.filter_vmap(
            lambda s: pl.run(training, s, batch, 1000, args={"nu": nu})
        )(states)
        runs.metrics["loss"][:, -1]    # the final loss of each member
        ```
    """
    step = step_of("pinnlib.run(training=...)", training)
    num_steps = check_positive_int("pinnlib.run(num_steps=...)", num_steps)
    check_resampling("pinnlib.run", resample_every, batch)
    sampler = batch if callable(batch) else None
    state, metrics, code, failed = _run_chunk(
        step,
        sampler,
        state,
        None if sampler is not None else batch,
        traced_args(args),
        jnp.asarray(num_steps, jnp.int32),
        num_steps,
        resample_every,
        jnp.asarray(result, jnp.int32),
    )
    return Run(state, metrics, code, failed)
