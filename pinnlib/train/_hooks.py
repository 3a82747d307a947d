"""What `fit` does on the host between chunks: log records, checkpoints, validation."""

import math
import pathlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .._errors import bad_argument
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
    """Early stopping's `(steps, values, best, waited, best_step)` of an earlier record.

    Applying the same rule to the earlier values puts a resumed run in exactly the
    state an uninterrupted one would be in.
    """
    if validation is None:
        return [], [], math.inf, 0, None
    if not isinstance(validation, Mapping) or set(validation) != {"step", "value"}:
        raise bad_argument(
            "pinnlib.fit(resume=...)",
            'a validation record {"step": [...], "value": [...]}',
            validation if not isinstance(validation, Mapping) else sorted(validation),
            "Pass the FitResult or the loaded checkpoint of the run you resume.",
        )
    steps = [int(s) for s in np.asarray(validation["step"]).ravel()]
    values = [float(v) for v in np.asarray(validation["value"]).ravel()]
    best, waited, best_step = math.inf, 0, None
    for step, value in zip(steps, values, strict=True):
        best, waited, improved = judge(value, best, waited, min_rel_improvement)
        if improved:
            best_step = step
    return steps, values, best, waited, best_step


def judge(value: float, best: float, waited: int, min_rel_improvement: float):
    """`(best, waited, improved)` after one validation value."""
    margin = min_rel_improvement * abs(best) if math.isfinite(best) else 0.0
    if value < best - margin:
        return value, 0, True
    return best, waited + 1, False


def checkpointer(options, start_step: int) -> Callable | None:
    """`save(state, history, validation, result, final, best)` or None (no options).

    `options` is a `pinnlib.Checkpoints` or None. `history` and `validation` are
    functions returning the records, called only when a checkpoint is written
    (joining the history costs time at every chunk).

    Saves between chunks once the step has passed the next multiple of
    `options.every`, and with `final=True` (the end of the run, an early stop or a
    non-finite stop) whatever the step; never twice for the same step. `best`, if
    given, is written first, to `directory/best`. Returns whether it wrote.
    """
    if options is None:
        return None
    directory, every = options.directory, options.every
    keep, metadata = options.keep, options.metadata
    marks = {"period": start_step // every if every else 0, "saved": None}

    def save(state, history, validation, result, final: bool, best=None) -> bool:
        from .. import checkpoint  # imported late: it depends on the training core

        step = int(state.step)
        due = every is not None and step // every > marks["period"]
        if step == marks["saved"] or not (final or due):
            return False
        if best is not None:  # first, so a saved state never has a newer best
            checkpoint.save(pathlib.Path(directory) / BEST, best, keep=1)
        validation = validation()
        extra = {
            "validation": {
                "step": [int(s) for s in validation["step"]],
                "value": [float(v) for v in validation["value"]],
            },
            "result": result.name if isinstance(result, RESULTS) else str(result),
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
        return True

    return save


# The best state (lowest validation value) is kept beside the checkpoints, here.
BEST = "best"


def load_best(directory, template, best_step: int | None):
    """The best state saved in `directory` if it is the one at `best_step`, else None.

    A run resumed with its validation record (`fit(validation=...)`) gets back the
    `best_state` an uninterrupted run would have.
    """
    from .. import checkpoint  # imported late: it depends on the training core

    path = pathlib.Path(directory) / BEST
    if best_step is None or not path.exists():
        return None
    saved = checkpoint.load(path, template).state
    return saved if int(saved.step) == best_step else None
