"""``fit``: the chunked, compiled training driver."""

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree
from tqdm import tqdm

from .._custom_types import Args, PointFn
from .._errors import bad_argument, check_finite, check_positive_int
from ._loop import _run_chunk
from ._state import TrainState
from ._step import Step


class FitResult(eqx.Module):
    """What `pinnlib.fit` returns: an immutable record of the run.

    **Fields:**

    - `state`: the final `TrainState` (continue training from it).
    - `history`: `{"step": (n,), "loss": (n,), term: (n,), ...}` NumPy arrays, one
      entry per optimizer step taken (the values before each update).
    - `validation`: `{"step": (k,), "value": (k,)}` from `validate`, one per chunk
      (empty arrays without `validate`).
    - `best_state`: the state with the lowest validation value (`None` without
      `validate`).
    - `stopped_early`: whether early stopping ended the run.

    !!! example

        ```python
        result = pl.fit(step, state, sampler, 5000, args={"nu": nu})
        result.history["loss"][-1], result.history["pde"][-1]
        result = pl.fit(step, result.state, sampler, 5000, args={"nu": nu})  # continue
        ```
    """

    state: TrainState
    history: dict[str, np.ndarray]
    validation: dict[str, np.ndarray]
    best_state: TrainState | None
    stopped_early: bool = eqx.field(static=True)


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


def _append(history: dict[str, list], metrics: dict, first_step: int, active: int):
    history.setdefault("step", []).append(np.arange(first_step, first_step + active))
    for name, values in metrics.items():
        history.setdefault(name, []).append(np.asarray(values)[:active])


def fit(
    step: Step,
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
    progress: bool = True,
) -> FitResult:
    r"""Train for `num_steps` steps: compiled `lax.scan` chunks, host work in between.

    The steps run as scans of `chunk_size` steps (one compilation, reused for every
    chunk, including a shorter last one, whose extra steps are skipped). Between
    chunks the host records the history, evaluates `validate`, applies early
    stopping and updates the progress bar.

    Collocation points: `batch` is either a fixed dict of point arrays, or a sampler
    `key -> batch` (e.g. `pinnlib.domains.sampler(...)`). With a sampler the points
    are drawn from `state.key` inside the compiled loop by `pinnlib.draw_batch`, and
    redrawn every `resample_every` steps.

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
    - `progress`: show a tqdm progress bar with the current loss.

    **Returns:** a `FitResult` (final state, history, validation, best state).

    **Raises:** `ValueError` for non-positive counts, non-finite `args`,
    `resample_every` without a sampler, or `patience` without `validate`.

    !!! example

        ```python
        result = pl.fit(step, state, sampler, 20_000, args={"nu": nu}, resample_every=1000)
        result.history["loss"][-1], result.state.model
        ```
    """
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
    history: dict[str, list] = {}
    val_steps, val_values = [], []
    best, best_state, waited, stopped_early = math.inf, None, 0, False
    bar = tqdm(total=num_steps, disable=not progress, unit="step")
    done = 0
    for _ in range(math.ceil(num_steps / chunk)):
        active = min(chunk, num_steps - done)
        first_step = int(state.step)
        state, metrics = _run_chunk(
            step,
            sampler,
            state,
            fixed_batch,
            args,
            jnp.asarray(active, jnp.int32),
            chunk,
            resample_every,
        )
        _append(history, metrics, first_step, active)
        done += active
        bar.update(active)
        bar.set_postfix(loss=f"{float(history['loss'][-1][-1]):.3e}")
        if validate is not None:
            value = float(validate(state.model))
            val_steps.append(int(state.step))
            val_values.append(value)
            margin = min_rel_improvement * abs(best) if math.isfinite(best) else 0.0
            if value < best - margin:
                best, best_state, waited = value, state, 0
            else:
                waited += 1
            if patience is not None and waited >= patience:
                stopped_early = True
                break
    bar.close()
    return FitResult(
        state=state,
        history={k: np.concatenate(v) for k, v in history.items()},
        validation={
            "step": np.asarray(val_steps, np.int64),
            "value": np.asarray(val_values, np.float64),
        },
        best_state=best_state,
        stopped_early=stopped_early,
    )
