"""`fit`'s option groups: validation and early stopping, checkpoints, progress."""

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

from .._errors import bad_argument, check_positive_int
from ._state import TrainState


@dataclasses.dataclass(frozen=True)
class Validation:
    r"""Validation, best state and early stopping for `pinnlib.fit`.

    After every chunk `fit` calls `fn(state)` on the host (lower is better) and
    records the value (`FitResult.validation`); the state with the lowest value so
    far is `FitResult.best_state`. A value counts as an improvement only if

    $$v < v_\text{best} - \text{min\_rel\_improvement}\cdot|v_\text{best}| ;$$

    with `patience`, the run stops (`RESULTS.stopped_early`) after `patience`
    validations in a row without one.

    **Arguments:**

    - `fn`: `fn(state) -> scalar`, e.g. `lambda s: pl.metrics.rel_l2(s.model,
      points, reference)`; it sees the whole `TrainState`, so it can judge
      trainable coefficients too (`s.coefficients["nu"].value`). Wrap it in
      `eqx.filter_jit` yourself if it is a pure JAX function.
    - `patience`: stop after this many validations without improvement (`None`:
      never stop early, only track the best state).
    - `min_rel_improvement`: a fraction in $[0, 1)$ (default 0: any decrease is an
      improvement). With `fn` returning the training loss, e.g. 0.01 stops an
      optimizer that has stalled, such as L-BFGS at the float32 floor.

    !!! example

        ```python
        stop_when_stalled = pl.Validation(
            lambda s: pl.metrics.rel_l2(s.model, grid, reference),
            patience=3,
            min_rel_improvement=0.01,
        )
        result = pl.fit(training, state, sampler, 20_000, validation=stop_when_stalled)
        result.best_state, result.validation["value"]
        ```
    """

    fn: Callable[[TrainState], Any]
    patience: int | None = None
    min_rel_improvement: int | float = 0.0

    def __post_init__(self):
        if not callable(self.fn):
            raise bad_argument(
                "pinnlib.Validation(fn=...)",
                "a function state -> scalar",
                type(self.fn).__name__,
                "Pass e.g. lambda s: pl.metrics.rel_l2(s.model, points, reference).",
            )
        if self.patience is not None:
            check_positive_int("pinnlib.Validation(patience=...)", self.patience)
        r = self.min_rel_improvement
        if not (isinstance(r, int | float) and 0.0 <= r < 1.0):
            raise bad_argument(
                "pinnlib.Validation(min_rel_improvement=...)",
                "a fraction in [0, 1)",
                r,
                "Pass e.g. 0.01 to require a 1% improvement.",
            )


@dataclasses.dataclass(frozen=True)
class Checkpoints:
    """Where and how often `pinnlib.fit` writes checkpoints.

    Each checkpoint (`pinnlib.checkpoint.save`) holds the whole state, the history
    so far, the validation record, the result code and `metadata`. They are written
    between chunks once `every` steps have passed since the last one (rounded up to
    a chunk end), and at the end of the run, including an early stop, a time-limit
    stop or a non-finite stop (then of the last finite state). With a `Validation`,
    the best state so far is also kept, in `directory/best`. A run resumed with
    `fit(..., resume=pl.checkpoint.load(...))` and the same `Checkpoints` continues
    exactly as the uninterrupted one, its `best_state` included.

    **Arguments:**

    - `directory`: a `str` or `pathlib.Path`.
    - `every`: steps between checkpoints (`None`: only at the end of the run).
    - `keep`: how many checkpoints to keep, the newest (`None` keeps all).
    - `metadata`: a JSON-serialisable dict stored with every checkpoint (e.g. the
      phase of a phased run).

    !!! example

        ```python
        ckpts = pl.Checkpoints("runs/burgers", every=1000, keep=3)
        result = pl.fit(training, state, sampler, 20_000, checkpoints=ckpts)
        ```
    """

    directory: str | os.PathLike
    every: int | None = None
    keep: int | None = 3
    metadata: Mapping[str, Any] | None = None

    def __post_init__(self):
        if not isinstance(self.directory, str | os.PathLike):
            raise bad_argument(
                "pinnlib.Checkpoints(directory=...)",
                "a directory path",
                type(self.directory).__name__,
                "Pass a str or pathlib.Path, e.g. 'runs/burgers'.",
            )
        if self.every is not None:
            check_positive_int("pinnlib.Checkpoints(every=...)", self.every)
        if self.keep is not None:
            check_positive_int("pinnlib.Checkpoints(keep=...)", self.keep)
        if self.metadata is not None and not isinstance(self.metadata, Mapping):
            raise bad_argument(
                "pinnlib.Checkpoints(metadata=...)",
                "a JSON-serialisable dict",
                type(self.metadata).__name__,
                'Pass e.g. metadata={"phase": 0}.',
            )


@dataclasses.dataclass(frozen=True)
class Progress:
    """How `pinnlib.fit` reports progress: a progress bar, a log function, how often.

    Reports come at least every `seconds` (wall clock), whatever the time per step:
    when steps are slow, `fit` runs a chunk in shorter compiled calls chosen from
    the measured step time (the numbers do not change). `fit(progress=True)` is
    `Progress()`, `progress=False` is `Progress(bar=False)`.

    **Arguments:**

    - `bar`: show a tqdm progress bar with the loss and the step rate.
    - `log`: `log(record)` called at every report with a dict of the last value of
      every metric (one per member for an ensemble), `"step"` and `"steps_per_s"`;
      e.g. `log=print` or `log=logging.getLogger("train").info`.
    - `seconds`: the longest time between reports (positive).

    !!! example

        ```python
        quiet_but_logged = pl.Progress(bar=False, log=print, seconds=30)
        pl.fit(training, state, sampler, 20_000, progress=quiet_but_logged)
        ```
    """

    bar: bool = True
    log: Callable[[dict], Any] | None = None
    seconds: int | float = 2.0

    def __post_init__(self):
        if not isinstance(self.bar, bool):
            raise bad_argument(
                "pinnlib.Progress(bar=...)",
                "True or False",
                self.bar,
                "Pass bar=False to hide the progress bar.",
            )
        if self.log is not None and not callable(self.log):
            raise bad_argument(
                "pinnlib.Progress(log=...)",
                "a function record -> None",
                type(self.log).__name__,
                "Pass e.g. log=print.",
            )
        s = self.seconds
        if isinstance(s, bool) or not (isinstance(s, int | float) and s > 0):
            raise bad_argument(
                "pinnlib.Progress(seconds=...)",
                "a positive number of seconds",
                s,
                "Pass e.g. seconds=2.0.",
            )


def as_progress(progress) -> Progress:
    """`fit(progress=...)` as a `Progress`: a bool is the bar on or off."""
    if isinstance(progress, Progress):
        return progress
    if isinstance(progress, bool):
        return Progress(bar=progress)
    raise bad_argument(
        "pinnlib.fit(progress=...)",
        "True, False or a pinnlib.Progress",
        type(progress).__name__,
        "Pass e.g. progress=pl.Progress(bar=False, log=print).",
    )


def check_option(name: str, value, kind: type):
    """`value` if it is None or a `kind`; else an error naming `fit(name=...)`."""
    if value is None or isinstance(value, kind):
        return value
    fix = f"Pass {name}=pl.{kind.__name__}(...)."
    if name == "validation" and isinstance(value, Mapping):
        fix = (
            "A validation record of a run to continue goes in "
            "resume=... (a FitResult or a loaded checkpoint); "
            "validation= takes pl.Validation(fn, patience=...)."
        )
    raise bad_argument(
        f"pinnlib.fit({name}=...)",
        f"None or a pinnlib.{kind.__name__}",
        type(value).__name__,
        fix,
    )


def resumed_records(resume, history) -> tuple[Mapping | None, Mapping | None]:
    """The `(history, validation record)` that `fit(resume=..., history=...)` continue.

    `resume` is a `FitResult` or a `pinnlib.checkpoint.Checkpoint` (anything with
    `history` and a `validation` attribute or a `metadata["validation"]` entry).
    """
    if resume is None:
        return history, None
    if history is not None:
        raise bad_argument(
            "pinnlib.fit(history=...)",
            "None when resume= is given (the history comes from it)",
            type(history).__name__,
            "Pass only resume=ckpt (or resume=result).",
        )
    if hasattr(resume, "validation") and hasattr(resume, "history"):
        return resume.history, resume.validation
    metadata = getattr(resume, "metadata", None)
    if hasattr(resume, "history") and isinstance(metadata, Mapping):
        return resume.history, metadata.get("validation")
    raise bad_argument(
        "pinnlib.fit(resume=...)",
        "a FitResult or a checkpoint from pinnlib.checkpoint.load",
        type(resume).__name__,
        "Pass the result of the run to continue, or its loaded checkpoint.",
    )
