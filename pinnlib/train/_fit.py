"""``fit``: the chunked, compiled training driver."""

import time
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree
from tqdm import tqdm

from .._custom_types import Args
from .._errors import bad_argument, check_finite, check_positive_int
from ._history import append, check_history, join
from ._hooks import checkpointer, judge, load_best, log_record, replay_validation
from ._loop import _run_chunk, _run_members, check_resampling, traced_args
from ._options import (
    Checkpoints,
    Progress,
    Validation,
    as_progress,
    check_option,
    resumed_records,
)
from ._results import (
    RESULTS,
    FitResult,
    NonFiniteError,
    members_message,
    nonfinite_message,
)
from ._state import TrainState
from ._step import Step
from ._training import Training, step_of


def fit(
    step: Training | Step,
    state: TrainState,
    batch: PyTree | Callable,
    num_steps: int,
    *,
    args: Args = None,
    resample_every: int | None = None,
    chunk_size: int = 1000,
    validation: Validation | None = None,
    checkpoints: Checkpoints | None = None,
    progress: bool | Progress = True,
    history: Mapping | None = None,
    resume: Any = None,
    time_limit: int | float | None = None,
    throw: bool = True,
) -> FitResult:
    r"""Train for `num_steps` steps: compiled `lax.scan` chunks, host work in between.

    A thin host driver over the compiled, guarded chunk of `pinnlib.run`. The steps
    run as scans of at most `chunk_size` steps (one compilation, reused for every
    call, including shorter ones, whose extra steps are skipped). At the end of
    every chunk the host records the history, validates, applies early stopping
    and writes checkpoints. When steps are slow, a chunk is run in shorter calls
    chosen from the measured step time, so that progress shows at least every few
    seconds; this changes nothing in the numbers.

    `state` may be a batch of states with a leading member axis (an ensemble, e.g.
    from `eqx.filter_vmap(training.init)`): the members train together in one
    compiled program, with one progress bar (the median loss) and a per-member
    history (entries of shape `(n, members)`); each member stops at its own first
    non-finite step while the others go on. `validation` and `checkpoints` need a
    single state.

    Collocation points: `batch` is either a fixed dict of point arrays, or a sampler
    `key -> batch` (e.g. `pinnlib.domains.sampler(...)`). With a sampler the points
    are drawn from `state.key` inside the compiled loop by `pinnlib.draw_batch`, and
    redrawn every `resample_every` steps. The points of terms owned by a sampling
    strategy (`pinnlib.training(..., sampling=...)`) come from `state.points`
    instead; then `batch` holds the other terms' points (`{}` if it owns them all).

    Non-finite guard: inside the compiled loop, a step is applied only if all its
    metrics (loss and terms) are finite and the new model and optimizer state are
    finite. The first step that fails is not applied; the run ends there with the
    state from before it (`state.step` equals the failing step), a history of the
    steps taken, and `FitResult.result` set to `RESULTS.nonfinite_loss` (the loss
    or a term was NaN/inf) or `RESULTS.nonfinite_update` (the loss was finite but
    the update was not). With `throw=True` this raises a `NonFiniteError` naming
    the step and the non-finite terms. An optimizer wrapped in
    `optax.apply_if_finite` skips a bad update on purpose (its `last_finite` state
    is False): such a step is accepted (the parameters are unchanged, the history
    shows the non-finite loss at that step) and training goes on, until its
    `max_consecutive_errors` is exceeded and the update is applied.

    **Arguments:**

    - `step`: a `pinnlib.training(...)` value, or a step from `pinnlib.make_step`.
    - `state`: the `TrainState` to start from (fresh or restored).
    - `batch`: fixed points or a sampler.
    - `num_steps`: steps to take (Python int).
    - `args`: coefficients passed to the loss, e.g. `{"nu": 0.003}` (keyword-only):
      numbers and arrays (which must be finite), and functions such as a source
      term `{"f": lambda x: ...}`.
    - `resample_every`: redraw points every this many steps (needs a sampler).
    - `chunk_size`: steps per compiled scan, and between validations and
      checkpoints.
    - `validation`: a `pinnlib.Validation` (a function of the state, evaluated after
      every chunk; the best state; early stopping).
    - `checkpoints`: a `pinnlib.Checkpoints` (directory, period, how many to keep,
      metadata).
    - `progress`: `True` (a progress bar), `False`, or a `pinnlib.Progress` (bar,
      log function, seconds between reports).
    - `history`: the history of earlier phases to continue, e.g.
      `adam_result.history`: a dict of equal-length 1-d arrays with a `"step"`
      entry. The returned history is this one followed by the new steps, per key;
      a key present in only one part is NaN (float64) for the other part's steps.
    - `resume`: the `FitResult` of an earlier call, or its checkpoint
      (`pinnlib.checkpoint.load(...)`), to continue: its history and validation
      record are continued, so that early stopping, the best state and the history
      end as in an uninterrupted run (pass its state as `state`).
    - `time_limit`: a wall-clock budget in seconds: the run stops (with
      `RESULTS.time_limit`, a checkpoint if configured, and no error) at the first
      progress report after the budget is spent.
    - `throw`: raise `NonFiniteError` on a non-finite step (default); with
      `throw=False`, return the `FitResult` with its `result` code instead.

    **Returns:** a `FitResult` (final state, history, validation record, best state,
    result code, failing step).

    **Raises:** `ValueError` for non-positive counts, non-finite `args`,
    `resample_every` without a sampler, options of the wrong type, or a malformed
    `history`; `NonFiniteError` (with `throw=True`) when a step is non-finite,
    carrying the `FitResult` as `error.result`.

    !!! example

        ```python
        result = pl.fit(training, state, sampler, 20_000, args={"nu": nu}, resample_every=1000)
        result.history["loss"][-1], result.state.model

        # Then L-BFGS on fixed points until it stalls, with one history for both.
        lbfgs = pl.training(loss, optax.lbfgs())
        state = lbfgs.switch(result.state)
        batch = pl.draw_batch(sampler, state, None)
        # The loss at the line search's last accepted point, stored in its state.
        stalled = pl.Validation(lambda s: optax.tree.get(s.opt_state, "value"),
                                patience=1, min_rel_improvement=0.01)
        result = pl.fit(lbfgs, state, batch, 2000, args={"nu": nu},
                        validation=stalled, history=result.history)
        result.history["step"]  # 0, 1, ..., up to 21_999
        ```
    """
    step = step_of("pinnlib.fit(training=...)", step)
    num_steps = check_positive_int("pinnlib.fit(num_steps=...)", num_steps)
    chunk = min(
        check_positive_int("pinnlib.fit(chunk_size=...)", chunk_size), num_steps
    )
    check_resampling("pinnlib.fit", resample_every, batch)
    for leaf in jax.tree.leaves(args):
        check_finite("pinnlib.fit(args=...)", leaf)
    validation = check_option("validation", validation, Validation)
    checkpoints = check_option("checkpoints", checkpoints, Checkpoints)
    progress = as_progress(progress)
    if time_limit is not None and not (
        isinstance(time_limit, int | float) and time_limit > 0
    ):
        raise bad_argument(
            "pinnlib.fit(time_limit=...)",
            "a positive number of seconds",
            time_limit,
            "Pass e.g. time_limit=600 to stop after ten minutes.",
        )
    members = _members(state)
    if members is not None:
        for name, value in (("validation", validation), ("checkpoints", checkpoints)):
            if value is not None:
                raise bad_argument(
                    f"pinnlib.fit({name}=...)",
                    "None with a batched state (an ensemble)",
                    type(value).__name__,
                    "Evaluate or save the members after the run, or fit them one "
                    "at a time.",
                )
    history, record = resumed_records(resume, history)
    earlier = None if history is None else check_history(history)
    min_rel = 0.0 if validation is None else validation.min_rel_improvement
    val_steps, val_values, best, waited, best_step = replay_validation(record, min_rel)
    save = checkpointer(checkpoints, 0 if members is not None else int(state.step))
    args = traced_args(args)
    sampler = batch if callable(batch) else None
    fixed_batch = None if sampler is not None else batch
    records: dict[str, list] = {}
    best_state, best_unsaved = None, False
    if checkpoints is not None and record is not None:
        best_state = load_best(checkpoints.directory, state, best_step)
    chunk_fn = _run_chunk if members is None else _run_members
    codes = np.zeros(() if members is None else (members,), np.int32)
    failed_at = np.full(codes.shape, -1, np.int64)
    failed_metrics: dict = {}

    def val():
        return {
            "step": np.asarray(val_steps, np.int64),
            "value": np.asarray(val_values, np.float64),
        }

    per_step = None  # seconds, measured in the previous call
    stop = RESULTS.successful
    started_fit = time.perf_counter()
    bar = tqdm(total=num_steps, disable=not progress.bar, unit="step")
    try:
        done = 0
        while done < num_steps and stop == RESULTS.successful:
            # Up to the next chunk boundary; shorter when steps are slow, so that
            # progress shows every few seconds. Validation, early stopping and
            # checkpoints happen at chunk boundaries only, whatever the timing.
            to_boundary = min(chunk - done % chunk, num_steps - done)
            active = _next_call_steps(per_step, to_boundary, progress.seconds)
            first_step = _first_step(state)
            started = time.perf_counter()
            state, metrics, chunk_codes, chunk_failed = chunk_fn(
                step,
                sampler,
                state,
                fixed_batch,
                args,
                jnp.asarray(active, jnp.int32),
                chunk,
                resample_every,
                jnp.asarray(codes),
            )
            new_codes = np.asarray(chunk_codes)
            chunk_failed = np.asarray(chunk_failed)
            if members is not None:
                metrics = {k: np.asarray(v).T for k, v in metrics.items()}
            newly = (new_codes != 0) & (codes == 0)
            still = new_codes == 0
            taken = active if still.any() else int(np.max(chunk_failed) - first_step)
            taken = max(taken, 0)
            seconds = time.perf_counter() - started
            per_step = seconds / active
            append(records, metrics, first_step, taken)
            done += taken
            if taken:
                loss = np.asarray(records["loss"][-1][-1])
                shown = float(loss) if loss.ndim == 0 else float(np.nanmedian(loss))
                bar.set_postfix(loss=f"{shown:.3e}", refresh=False)
                if progress.log is not None:
                    progress.log(log_record(records, seconds, taken))
            bar.update(taken)
            if newly.any():
                failed_at = np.where(newly, chunk_failed, failed_at)
                if members is None:
                    offset = int(chunk_failed) - first_step
                    failed_metrics = {
                        k: float(v[offset]) for k, v in metrics.items() if v.ndim == 1
                    }
            codes = new_codes
            if not still.any():
                stop = RESULTS(int(np.max(codes)))
                break
            at_boundary = done % chunk == 0 or done == num_steps
            if validation is not None and at_boundary:
                value = float(validation.fn(state))
                val_steps.append(int(state.step))
                val_values.append(value)
                best, waited, improved = judge(value, best, waited, min_rel)
                if improved:
                    best_state, best_unsaved = state, True
                if validation.patience is not None and waited >= validation.patience:
                    stop = RESULTS.stopped_early
            if (
                time_limit is not None
                and time.perf_counter() - started_fit > time_limit
                and done < num_steps
            ):
                stop = RESULTS.time_limit
            if save is not None and at_boundary:
                wrote = save(
                    state,
                    lambda: join(earlier, records),
                    val,
                    stop,
                    final=False,
                    best=best_state if best_unsaved else None,
                )
                best_unsaved = best_unsaved and not wrote
    finally:
        bar.close()
    message = None
    if members is None:
        single = RESULTS(int(codes)) if int(codes) else stop
        code, failed_step = single, (int(failed_at) if int(failed_at) >= 0 else None)
        if failed_step is not None:
            message = nonfinite_message(
                single, failed_step, failed_metrics, state.weights
            )
    else:
        code = tuple(RESULTS(int(c)) if c else stop for c in codes)
        failed_step = tuple(int(f) if f >= 0 else None for f in failed_at)
        if (failed_at >= 0).any():
            message = members_message(codes, failed_at)
    result = FitResult(
        state=state,
        history=join(earlier, records),
        validation=val(),
        best_state=best_state,
        result=code,
        failed_step=failed_step,
    )
    if save is not None:
        save(
            state,
            lambda: result.history,
            lambda: result.validation,
            code,
            final=True,
            best=best_state if best_unsaved else None,
        )
    if throw and message is not None:
        raise NonFiniteError(message, result)
    return result


def _next_call_steps(per_step: float | None, limit: int, seconds: int | float) -> int:
    """How many steps the next call runs, so that it takes about `seconds`.

    `per_step` is the time per step measured in the previous call (None before the
    first: then one step; the first includes compilation, so the second is short
    too); never more than `limit`, the steps left to the chunk boundary.
    """
    if per_step is None:
        return min(limit, 1)
    return max(1, min(limit, int(seconds / max(per_step, 1e-9))))


def _members(state: TrainState) -> int | None:
    """The number of members of a batched state (leading axis), or None."""
    shape = np.shape(state.step)
    if len(shape) > 1:
        raise bad_argument(
            "pinnlib.fit(state=...)",
            "one state, or a batch of states with one leading axis",
            f"state.step of shape {shape}",
            "Stack the members along one axis, e.g. with eqx.filter_vmap(init).",
        )
    return shape[0] if shape else None


def _first_step(state: TrainState) -> int:
    """The step of the members still running (the most advanced)."""
    return int(np.max(np.asarray(state.step)))
