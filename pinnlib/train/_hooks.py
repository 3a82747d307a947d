"""What `fit` does on the host between chunks: log records, checkpoints, validation."""

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .._errors import bad_argument, check_positive_int
from ._results import RESULTS


def log_record(records: Mapping[str, list], seconds: float, taken: int) -> dict:
    """The last recorded value of every metric, the step and the step rate."""
    record: dict[str, Any] = {"step": int(records["step"][-1][-1]) + 1}
    record.update(
        {
            k: np.asarray(v[-1][-1]).tolist()  # a float, or one per member
            for k, v in records.items()
            if k != "step" and v[-1].size
        }
    )
    record["steps_per_s"] = taken / seconds if seconds > 0 else math.inf
    return record


def replay_validation(validation, min_rel_improvement: float):
    """Early-stopping bookkeeping `(steps, values, best, waited)` of an earlier record.

    Applying the same rule to the earlier values puts a resumed run in exactly the
    state an uninterrupted one would be in.
    """
    if validation is None:
        return [], [], math.inf, 0
    if not isinstance(validation, Mapping) or set(validation) != {"step", "value"}:
        raise bad_argument(
            "pinnlib.fit(validation=...)",
            'a dict {"step": [...], "value": [...]} (FitResult.validation)',
            validation if not isinstance(validation, Mapping) else sorted(validation),
            "Pass the validation record of the run you resume.",
        )
    steps = [int(s) for s in np.asarray(validation["step"]).ravel()]
    values = [float(v) for v in np.asarray(validation["value"]).ravel()]
    best, waited = math.inf, 0
    for value in values:
        best, waited, _ = judge(value, best, waited, min_rel_improvement)
    return steps, values, best, waited


def judge(value: float, best: float, waited: int, min_rel_improvement: float):
    """`(best, waited, improved)` after one validation value."""
    margin = min_rel_improvement * abs(best) if math.isfinite(best) else 0.0
    if value < best - margin:
        return value, 0, True
    return best, waited + 1, False


def checkpointer(
    directory,
    every: int | None,
    keep: int | None,
    metadata: Mapping | None,
    start_step: int,
) -> Callable | None:
    """`save(state, history, validation, result, final)`, or None without a directory.

    `history` and `validation` are functions returning the records, called only when
    a checkpoint is written (joining the history costs time at every chunk).

    Saves between chunks once the step has passed the next multiple of `every`, and
    with `final=True` (the end of the run, an early stop or a non-finite stop)
    whatever the step; never twice for the same step.
    """
    if directory is None:
        if every is not None:
            raise bad_argument(
                "pinnlib.fit(checkpoint_every=...)",
                "a checkpoint_dir alongside",
                every,
                "Pass checkpoint_dir='runs/ckpt' to write checkpoints.",
            )
        return None
    if every is not None:
        every = check_positive_int("pinnlib.fit(checkpoint_every=...)", every)
    if not isinstance(directory, str | os.PathLike):
        raise bad_argument(
            "pinnlib.fit(checkpoint_dir=...)",
            "a directory path",
            type(directory).__name__,
            "Pass a str or pathlib.Path.",
        )
    marks = {"period": start_step // every if every else 0, "saved": None}

    def save(state, history, validation, result: RESULTS, final: bool) -> None:
        from .. import checkpoint  # imported late: it depends on the training core

        step = int(state.step)
        due = every is not None and step // every > marks["period"]
        if step == marks["saved"] or not (final or due):
            return
        validation = validation()
        extra = {
            "validation": {
                "step": [int(s) for s in validation["step"]],
                "value": [float(v) for v in validation["value"]],
            },
            "result": result.name,
        }
        checkpoint.save(
            directory,
            state,
            history=history(),
            metadata={**(metadata or {}), **extra},
            keep=keep,
        )
        marks["saved"] = step
        if every:
            marks["period"] = step // every

    return save
