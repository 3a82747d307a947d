"""The history `fit` records: per-step NumPy arrays, and continuing an earlier one."""

from collections.abc import Mapping

import numpy as np

from .._errors import bad_argument

_WHERE = "pinnlib.fit(history=...)"
_FIX = "Pass the history of an earlier run, e.g. history=result.history."


def check_history(history, where: str = _WHERE) -> dict[str, np.ndarray]:
    """Validate a history: a dict of equal-length 1-d arrays with an integer "step"."""
    if not isinstance(history, Mapping):
        raise bad_argument(where, "a dict of 1-d arrays", type(history).__name__, _FIX)
    if "step" not in history:
        raise bad_argument(where, 'a dict with a "step" entry', sorted(history), _FIX)
    arrays = {name: np.asarray(values) for name, values in history.items()}
    shapes = {name: a.shape for name, a in arrays.items()}
    if any(len(shape) != 1 for shape in shapes.values()):
        raise bad_argument(where, "1-d arrays (one entry per step)", shapes, _FIX)
    if len(set(shapes.values())) > 1:
        raise bad_argument(where, "arrays of equal length", shapes, _FIX)
    if not np.issubdtype(arrays["step"].dtype, np.integer):
        raise bad_argument(where, 'integer "step" values', arrays["step"].dtype, _FIX)
    return arrays


def append(records: dict[str, list], metrics: Mapping, first_step: int, taken: int):
    """Append the first `taken` entries of a chunk's stacked `metrics`."""
    records.setdefault("step", []).append(np.arange(first_step, first_step + taken))
    for name, values in metrics.items():
        records.setdefault(name, []).append(np.asarray(values)[:taken])


def join(
    earlier: Mapping[str, np.ndarray] | None, records: Mapping[str, list]
) -> dict[str, np.ndarray]:
    """`earlier` followed by the new `records`, per key.

    A key present in only one part is filled with NaN for the other part's steps (a
    float64 array); "step" stays an integer array.
    """
    new = {name: np.concatenate(parts) for name, parts in records.items()}
    if earlier is None:
        return new
    sizes = (len(earlier["step"]), len(new["step"]))
    joined = {}
    for name in {**earlier, **new}:
        parts = [
            part[name] if name in part else np.full(size, np.nan, np.float64)
            for part, size in zip((earlier, new), sizes, strict=True)
        ]
        joined[name] = np.concatenate(parts)
    return joined
