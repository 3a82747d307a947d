"""Writing a training history to JSON or CSV."""

import csv
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .._errors import bad_argument
from ._history import check_history


def _plain(value) -> int | float | None:
    value = value.item()
    return None if isinstance(value, float) and not math.isfinite(value) else value


def save_history(history: Mapping, path: str | os.PathLike) -> Path:
    r"""Write a history (`FitResult.history`) to a `.json` or `.csv` file.

    JSON: one object `{"step": [...], "loss": [...], ...}`, one list per entry, with
    NaN and infinities written as `null`. CSV: a header row of the entry names,
    then one row per recorded step (NaN written as `nan`). Floats are written with
    full precision (17 significant digits), so reading them back gives the same
    numbers. The file is written to a temporary name and renamed, so a reader never
    sees half a file.

    **Arguments:** `history`: a dict of equal-length 1-d arrays with a `"step"`
    entry; `path`: the file, ending in `.json` or `.csv`.

    **Returns:** the path written.

    **Raises:** `ValueError` for another suffix or a malformed history.

    !!! example

        ```python
        result = pl.fit(step, state, sampler, 1000)
        pl.save_history(result.history, "out/history.csv")
        ```
    """
    where = "pinnlib.save_history"
    history = check_history(history, where=f"{where}(history=...)")
    path = Path(path)
    if path.suffix not in (".json", ".csv"):
        raise bad_argument(
            f"{where}(path=...)",
            "a file name ending in .json or .csv",
            str(path),
            "Pick the format with the suffix, e.g. 'history.csv'.",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    names = list(history)
    with open(tmp, "w", newline="") as file:
        if path.suffix == ".json":
            columns = {k: [_plain(v) for v in history[k]] for k in names}
            json.dump(columns, file)
        else:
            writer = csv.writer(file)
            writer.writerow(names)
            for row in zip(*(history[k] for k in names), strict=True):
                writer.writerow(
                    [repr(v.item()) if isinstance(v, np.floating) else v for v in row]
                )
    os.replace(tmp, path)
    return path
