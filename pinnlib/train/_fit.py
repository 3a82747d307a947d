"""``fit``: the chunked, compiled training driver."""

import math
import os
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree
from tqdm import tqdm

from .._custom_types import Args, PointFn
from .._errors import bad_argument, check_finite, check_positive_int
from ._history import append, check_history, join
from ._hooks import checkpointer, judge, log_record, replay_validation
from ._loop import _run_chunk
from ._results import RESULTS, FitResult, NonFiniteError, nonfinite_message
from ._state import TrainState
from ._step import Step
from ._training import Training, step_of


def _check_fit_args(num_steps, chunk_size, resample_every, patience, batch, args):
    num_steps = check_positive_int("pinnlib.fit(num_steps=...)", num_steps)
    chunk_size = check_positive_int("pinnlib.fit(chunk_size=...)", chunk_size)
    if resample_every is not None:
        check_positive_int("pinnlib.fit(resample_every=...)", resample_every)
        if not callable(batch):
            raise bad_argument(
                "pinnlib.fit(resample_every=...)",
                "a sampler as `batch`",
                type(batch).__name__,
                "Pass a sampler (key -> batch), e.g. pl.domains.sampler(...), to redraw.",
            )
    if patience is not None:
        check_positive_int("pinnlib.fit(patience=...)", patience)
    for leaf in jax.tree.leaves(args):
        check_finite("pinnlib.fit(args=...)", leaf)
    return num_steps, min(chunk_size, num_steps)


def fit(
    step: Training | Step,
    state: TrainState,
    batch: PyTree | Callable,
    num_steps: int,
    *,
    args: Args = None,
    chunk_size: int = 1000,
    resample_every: int | None = None,
    validate: Callable[[PointFn], float] | None = None,
    patience: int | None = None,
    min_rel_improvement: float = 0.0,
    history: dict | None = None,
    validation: dict | None = None,
    throw: bool = True,
    progress: bool = True,
    log: Callable[[dict], None] | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    keep: int | None = 3,
    metadata: dict | None = None,
) -> FitResult:
    r"""Train for `num_steps` steps: compiled `lax.scan` chunks, host work in between.

    The steps run as scans of `chunk_size` steps (one compilation, reused for every
    chunk, including a shorter last one, whose extra steps are skipped). Between
    chunks the host records the history, evaluates `validate`, applies early
    stopping and updates the progress bar.

    Collocation points: `batch` is either a fixed dict of point arrays, or a sampler
    `key -> batch` (e.g. `pinnlib.domains.sampler(...)`). With a sampler the points
    are drawn from `state.key` inside the compiled loop by `pinnlib.draw_batch`, and
    redrawn every `resample_every` steps. The points of terms owned by a sampling
    strategy (`pinnlib.make_step(..., sampling=...)`) come from `state.points`
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

    - `step`: from `pinnlib.make_step`.
    - `state`: the `TrainState` to start from (fresh or restored).
    - `batch`: fixed points or a sampler.
    - `num_steps`: steps to take (Python int).
    - `args`: coefficients passed to the loss, e.g. `{"nu": 0.003}` (keyword-only;
      must be finite).
    - `chunk_size`: steps per compiled scan (keyword-only).
    - `resample_every`: redraw points every this many steps (needs a sampler).
    - `validate`: `validate(model) -> scalar` called on the host after every chunk
      (lower is better), e.g. `lambda m: pl.metrics.rel_l2(m, points, reference)`;
      wrap it in `eqx.filter_jit` yourself if it is a pure JAX function.
    - `patience`: stop after this many validations without improvement (needs
      `validate`).
    - `min_rel_improvement`: a validation value counts as an improvement only if it
      is below `best - min_rel_improvement * |best|` (default 0: any decrease). With
      `validate` returning the training loss, this stops an optimizer that has
      stalled, e.g. L-BFGS at the float32 floor.
    - `history`: the history of earlier phases to continue, e.g.
      `adam_result.history`: a dict of equal-length 1-d arrays with a `"step"`
      entry. The returned history is this one followed by the new steps, per key;
      a key present in only one part is NaN (float64) for the other part's steps.
    - `validation`: the validation record of the run being resumed
      (`FitResult.validation`, or `Checkpoint.metadata["validation"]`): early
      stopping then continues exactly as in an uninterrupted run.
    - `throw`: raise `NonFiniteError` on a non-finite step (default); with
      `throw=False`, return the `FitResult` with its `result` code instead.
    - `progress`: show a tqdm progress bar with the loss and the step rate.
    - `log`: `log(record)` called after every chunk with a dict of the last value
      of every metric, `"step"` and `"steps_per_s"`; e.g. `log=print` or
      `log=logging.getLogger("train").info`.
    - `checkpoint_dir`: write checkpoints there (`pinnlib.checkpoint.save`: the
      whole state, the history so far, the validation record, `metadata`): between
      chunks every `checkpoint_every` steps (rounded up to a chunk end), and at the
      end of the run, including an early stop or a non-finite stop (then of the
      last finite state). Resume with `pinnlib.checkpoint.load` and
      `fit(..., history=ckpt.history, validation=ckpt.metadata["validation"])`.
    - `keep`: how many checkpoints to keep (the newest; `None` keeps all).
    - `metadata`: JSON-serialisable dict stored with every checkpoint (e.g. the
      phase of a phased run).

    **Returns:** a `FitResult` (final state, history, validation, best state, result
    code, failing step).

    **Raises:** `ValueError` for non-positive counts, non-finite `args`,
    `resample_every` without a sampler, `patience` without `validate`, or a
    malformed `history`; `NonFiniteError` (with `throw=True`) when a step is
    non-finite, carrying the `FitResult` as `error.result`.

    !!! example

        ```python
        result = pl.fit(step, state, sampler, 20_000, args={"nu": nu}, resample_every=1000)
        result.history["loss"][-1], result.state.model

        # Adam, then L-BFGS on fixed points, with one history for both phases.
        lbfgs = optax.lbfgs()
        state = pl.switch_optimizer(result.state, lbfgs)
        batch = pl.draw_batch(sampler, state, None)
        result = pl.fit(
            pl.make_step(loss, lbfgs), state, batch, 2000, args={"nu": nu},
            history=result.history,
        )
        result.history["step"]  # 0, 1, ..., 21_999
        ```
    """
    step = step_of("pinnlib.fit(training=...)", step)
    num_steps, chunk = _check_fit_args(
        num_steps, chunk_size, resample_every, patience, batch, args
    )
    if not 0.0 <= min_rel_improvement < 1.0:
        raise bad_argument(
            "pinnlib.fit(min_rel_improvement=...)",
            "a fraction in [0, 1)",
            min_rel_improvement,
            "Pass e.g. 0.01 to require a 1% improvement.",
        )
    if patience is not None and validate is None:
        raise bad_argument(
            "pinnlib.fit(patience=...)",
            "a `validate` function alongside",
            patience,
            "Pass validate=lambda model: error(model) to use early stopping.",
        )
    earlier = None if history is None else check_history(history)
    val_steps, val_values, best, waited = replay_validation(
        validation, min_rel_improvement
    )
    save = checkpointer(
        checkpoint_dir, checkpoint_every, keep, metadata, int(state.step)
    )
    # Python numbers in args become weakly typed arrays: traced, not baked into the
    # program, so new coefficient values reuse the compiled chunk (and keep dtypes).
    args = jax.tree.map(
        lambda a: (
            jnp.asarray(a)
            if isinstance(a, int | float) and not isinstance(a, bool)
            else a
        ),
        args,
    )
    sampler = batch if callable(batch) else None
    fixed_batch = None if sampler is not None else batch
    records: dict[str, list] = {}
    best_state = None

    def val():
        return {
            "step": np.asarray(val_steps, np.int64),
            "value": np.asarray(val_values, np.float64),
        }

    code, failed_step, failed_metrics = RESULTS.successful, None, {}
    bar = tqdm(total=num_steps, disable=not progress, unit="step")
    try:
        done = 0
        for _ in range(math.ceil(num_steps / chunk)):
            active = min(chunk, num_steps - done)
            first_step, started = int(state.step), time.perf_counter()
            state, metrics, chunk_code, chunk_failed = _run_chunk(
                step,
                sampler,
                state,
                fixed_batch,
                args,
                jnp.asarray(active, jnp.int32),
                chunk,
                resample_every,
                jnp.int32(int(RESULTS.successful)),
            )
            code = RESULTS(int(chunk_code))
            taken = (
                active if code == RESULTS.successful else int(chunk_failed) - first_step
            )
            append(records, metrics, first_step, taken)
            done += taken
            bar.update(taken)
            if taken:
                bar.set_postfix(loss=f"{float(records['loss'][-1][-1]):.3e}")
                if log is not None:
                    log(log_record(records, time.perf_counter() - started, taken))
            if code != RESULTS.successful:
                failed_step = int(chunk_failed)
                failed_metrics = {
                    k: float(v[taken]) for k, v in metrics.items() if v.ndim == 1
                }
                break
            if validate is not None:
                value = float(validate(state.model))
                val_steps.append(int(state.step))
                val_values.append(value)
                best, waited, improved = judge(value, best, waited, min_rel_improvement)
                if improved:
                    best_state = state
                if patience is not None and waited >= patience:
                    code = RESULTS.stopped_early
                    break
            if save is not None:
                save(state, lambda: join(earlier, records), val, code, final=False)
    finally:
        bar.close()
    result = FitResult(
        state=state,
        history=join(earlier, records),
        validation=val(),
        best_state=best_state,
        result=code,
        failed_step=failed_step,
    )
    if save is not None:
        save(state, lambda: result.history, lambda: result.validation, code, final=True)
    if failed_step is not None and throw:
        message = nonfinite_message(code, failed_step, failed_metrics, state.weights)
        raise NonFiniteError(message, result)
    return result
