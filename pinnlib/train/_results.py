"""How a run ended: `FitResult`, its codes `RESULTS`, and the error for a NaN."""

import enum
import math
from collections.abc import Iterable, Mapping

import equinox as eqx
import numpy as np

from ._state import TrainState


class RESULTS(enum.IntEnum):
    """Why `pinnlib.fit` stopped, as stored in `FitResult.result`.

    An integer enum (as in diffrax and optimistix), so the code can also be carried
    as an int32 inside compiled code:

    - `successful` (0): all steps were taken (or `patience` never ran out).
    - `nonfinite_loss` (1): the loss or one of its terms was NaN or infinite at a
      step; the step was not applied.
    - `nonfinite_update` (2): the loss was finite, but the update made the model's
      parameters or the optimizer state non-finite; the step was not applied.
    - `stopped_early` (3): early stopping (`patience`) ended the run.
    - `time_limit` (4): `pinnlib.fit`'s `time_limit` ran out before all steps.

    `RESULTS.x.message` is a one-sentence description of the code.

    !!! example

        ```python
        result = pl.fit(step, state, sampler, 5000, throw=False)
        if result.result != pl.RESULTS.successful:
            print(result.result.message, "at step", result.failed_step)
        ```
    """

    successful = 0
    nonfinite_loss = 1
    nonfinite_update = 2
    stopped_early = 3
    time_limit = 4

    @property
    def message(self) -> str:
        """A one-sentence, human-readable description of the code."""
        return _MESSAGES[self]


_MESSAGES = {
    RESULTS.successful: "The run took all its steps.",
    RESULTS.nonfinite_loss: (
        "The loss or one of its terms became non-finite (NaN or inf) at a step."
    ),
    RESULTS.nonfinite_update: (
        "The loss was finite, but the update made the model's parameters or the "
        "optimizer state non-finite."
    ),
    RESULTS.stopped_early: (
        "Early stopping ended the run: the validation value did not improve for "
        "`patience` validations."
    ),
    RESULTS.time_limit: "The wall-clock budget (`time_limit`) ran out.",
}


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
    - `result`: how the run ended, a `pinnlib.RESULTS` code: `successful`,
      `stopped_early`, or (with `fit(..., throw=False)`) `nonfinite_loss` /
      `nonfinite_update`; `result.result.message` describes it.
    - `failed_step`: the step at which a non-finite value stopped the run (`None`
      otherwise); then `state.step == failed_step`, since the failing step was not
      applied, and `history` ends just before it.

    The read-only property `stopped_early` is `result == RESULTS.stopped_early`.

    For a batched state (an ensemble, a leading member axis), every history entry
    has shape `(n, members)` (NaN where a member had stopped), and `result` and
    `failed_step` are tuples with one entry per member.

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
    result: RESULTS | tuple[RESULTS, ...] = eqx.field(
        static=True, default=RESULTS.successful
    )
    failed_step: int | None | tuple[int | None, ...] = eqx.field(
        static=True, default=None
    )

    @property
    def stopped_early(self) -> bool:
        """Whether early stopping ended the run (`result == RESULTS.stopped_early`)."""
        return self.result == RESULTS.stopped_early


class NonFiniteError(RuntimeError):
    """Raised by `pinnlib.fit` (with `throw=True`) when training hits a NaN or inf.

    The message names the failing step and the loss terms that went non-finite,
    with their values. The attribute `result` holds the `FitResult` of the run: its
    `state` is the last finite state (from before the failing step), its `history`
    holds the steps taken, and `result.result` is `RESULTS.nonfinite_loss` or
    `RESULTS.nonfinite_update`.

    !!! example

        ```python
        try:
            result = pl.fit(step, state, sampler, 5000)
        except pl.NonFiniteError as error:
            result = error.result  # e.g. restart from result.state with a lower rate
            print(result.failed_step, result.result.message)
        ```
    """

    def __init__(self, message: str, result: FitResult) -> None:
        super().__init__(message)
        self.result = result


def _format(values: Iterable[tuple[str, float]]) -> str:
    return ", ".join(f"{name!r} = {value:.6g}" for name, value in values)


def nonfinite_message(
    code: RESULTS, step: int, metrics: Mapping[str, float], terms: Iterable[str]
) -> str:
    """The `NonFiniteError` text for a run that failed at `step` with `metrics`."""
    terms = [name for name in terms if name in metrics]
    bad = [(k, v) for k, v in metrics.items() if not math.isfinite(v)]
    bad_terms = [(k, v) for k, v in bad if k in terms]
    if code == RESULTS.nonfinite_loss:
        if bad_terms:
            what = "term" if len(bad_terms) == 1 else "terms"
            others = " (others finite)" if len(bad_terms) < len(terms) else ""
            detail = f"{what} {_format(bad_terms)}{others}"
        else:
            detail = (
                f"{_format([('loss', metrics['loss'])])} although every term is "
                "finite (check the loss weights for a NaN, an inf or an overflow)"
            )
        head = f"the loss became non-finite at step {step}: {detail}"
        hint = (
            "Look for a division by zero, the log or square root of a negative "
            "number, or an overflow in the residual or its inputs (points, args, "
            "weights); if the loss grew before, lower the learning rate."
        )
    else:
        finite = [(k, v) for k, v in metrics.items() if k == "loss"]
        extra = f"; non-finite metrics: {_format(bad)}" if bad else ""
        head = (
            f"the update at step {step} made the model's parameters or the "
            f"optimizer state non-finite (the loss was finite: {_format(finite)}"
            f"{extra})"
        )
        hint = (
            "Clip the gradients (optax.chain(optax.clip_by_global_norm(1.0), "
            "optimizer)), use a smaller learning rate, or skip bad steps with "
            "optax.apply_if_finite(optimizer, max_consecutive_errors)."
        )
    return (
        f"pinnlib.fit: {head}. The last finite state (state.step == {step}, before "
        f"the failing step) is in error.result.state. {hint} Pass throw=False to "
        "get the result back instead."
    )


def members_message(codes, failed_steps) -> str:
    """The `NonFiniteError` text for a batched run in which some members failed."""
    failed = [
        f"member {i}: {RESULTS(int(c)).name} at step {int(s)}"
        for i, (c, s) in enumerate(zip(codes, failed_steps, strict=True))
        if s >= 0
    ]
    return (
        f"pinnlib.fit: {len(failed)} of {len(codes)} members became non-finite "
        f"({'; '.join(failed)}). Each kept its last finite state, and the other "
        "members went on; the result is in error.result (result and failed_step per "
        "member). Pass throw=False to get it back instead."
    )
