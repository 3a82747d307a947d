"""`save`: write one checkpoint atomically, then prune old ones."""

import datetime
import io
import json
import os
import pathlib
import platform
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import equinox as eqx
import jax
import numpy as np
from jax.experimental import multihost_utils
from jaxtyping import ArrayLike, PyTree

from .._errors import bad_argument, check_positive_int
from . import _layout as layout
from ._leaves import describe, keys_to_data, on_host

_WHERE = "pinnlib.checkpoint.save"


def _resolve_step(state, step) -> int:
    if hasattr(state, "step"):
        try:
            found = np.asarray(state.step)
        except Exception:  # e.g. a tracer: save is host-side only
            found = None
        if found is None or found.shape != () or found.dtype.kind not in "iu":
            raise bad_argument(
                f"{_WHERE}(state=...)",
                "a state whose .step is a concrete integer scalar",
                getattr(state.step, "shape", state.step),
                "Call save outside jax.jit, on a state from pl.init_state or pl.fit.",
            )
        if step is not None and int(step) != int(found):
            raise bad_argument(
                f"{_WHERE}(step=...)",
                f"nothing or the state's own step {int(found)}",
                step,
                "Leave out step=; it is read from state.step.",
            )
        step = int(found)
    elif step is None:
        raise bad_argument(
            f"{_WHERE}(step=...)",
            "a step number for a state without a .step field",
            None,
            "Pass step=... (a non-negative int).",
        )
    if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 0:
        raise bad_argument(
            f"{_WHERE}(step=...)", "a non-negative int", step, "Pass e.g. step=1000."
        )
    return int(step)


def _history_bytes(history) -> bytes | None:
    """The history as `.npz` bytes (the format of `np.savez`; no pickled objects)."""
    if history is None:
        return None
    fix = "Pass a dict of NumPy arrays, e.g. history=result.history."
    where = f"{_WHERE}(history=...)"
    if not isinstance(history, Mapping) or not all(isinstance(k, str) for k in history):
        raise bad_argument(where, "a dict {str: array}", type(history).__name__, fix)
    arrays = {name: np.asarray(values) for name, values in history.items()}
    objects = sorted(name for name, a in arrays.items() if a.dtype.hasobject)
    if objects:
        raise bad_argument(where, "numeric arrays", f"object arrays {objects}", fix)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as file:
                np.lib.format.write_array(file, array, allow_pickle=False)
    return buffer.getvalue()


def _last_loss(history) -> float | None:
    loss = None if history is None else history.get("loss")
    if loss is None or np.ndim(loss) != 1 or len(loss) == 0:
        return None
    return float(np.asarray(loss)[-1])


def _versions() -> dict[str, str]:
    import pinnlib  # at call time: pinnlib imports this subpackage

    versions = {"pinnlib": getattr(pinnlib, "__version__", "unknown")}
    for name in ("jax", "equinox", "optax", "numpy"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "unknown"
    return versions | {"python": platform.python_version()}


def _to_json(info: dict) -> str:
    """`info` as indented JSON, with one line per leaf description."""
    head = json.dumps({k: v for k, v in info.items() if k != "leaves"}, indent=1)
    leaves = ",\n".join(f"  {json.dumps(leaf)}" for leaf in info["leaves"])
    return f'{head[:-2]},\n "leaves": [\n{leaves}\n ]\n}}\n'


def _prune(directory: pathlib.Path, keep: int, new: pathlib.Path) -> None:
    found = layout.checkpoints(directory)
    complete = [(step, path) for step, path in found if layout.is_complete(path)]
    kept = {path for _, path in complete[-keep:]} | {new}
    oldest = min(step for step, path in found if path in kept)
    for step, path in found:
        if path not in kept and (layout.is_complete(path) or step < oldest):
            layout.remove(path)


def save(
    directory: str | os.PathLike,
    state: PyTree,
    *,
    history: Mapping[str, ArrayLike] | None = None,
    metadata: Mapping[str, Any] | None = None,
    keep: int | None = 3,
    step: int | None = None,
) -> pathlib.Path:
    r"""Save `state` (with `history` and `metadata`) as one checkpoint in `directory`.

    Writes `directory/ckpt-{step:09d}/` holding

    - `state.eqx`: every array leaf, bit for bit, via `equinox.tree_serialise_leaves`
      (no dependency beyond equinox; orbax would add a heavy one). As with equinox's
      own loading, the tree structure and static parts (activation functions, ...)
      are not stored: they come from the template given to `load`. Typed PRNG keys
      are stored as their `jax.random.key_data` and re-wrapped on load.
    - `history.npz`: the history arrays in NumPy's `.npz` format (absent if `None`).
    - `meta.json`: a readable sidecar with the step, the time, the versions of
      pinnlib, jax, equinox and optax, the last loss in `history`, `metadata`,
      sha256 checksums of the two files above, and the path, shape and dtype of
      every leaf (so `load` can name the first leaf a template gets wrong).

    Saving is atomic: everything is written (and fsynced) in a temporary directory
    `directory/.tmp-ckpt-...`, which is then renamed; a process killed while saving
    leaves only a temporary directory, which `latest` and `load` ignore. A
    checkpoint of the same step is replaced. Then all but the newest `keep`
    checkpoints (by step) are deleted; the one just written is always kept.

    **Arguments:**

    - `directory`: where checkpoints go (created if missing).
    - `state`: a pytree of arrays, typed PRNG keys, Python scalars and static data;
      usually a `pinnlib.TrainState` (any optax state, e.g. `optax.lbfgs`'s, works).
    - `history`: `{name: array}` NumPy arrays such as `FitResult.history`, or
      `None` (keyword-only).
    - `metadata`: a JSON-serialisable dict, e.g. `{"phase": 1}` (keyword-only;
      tuples come back as lists).
    - `keep`: how many checkpoints to keep, a positive int, or `None` for all
      (keyword-only).
    - `step`: the step number for a state without a `.step` field (keyword-only;
      otherwise `int(state.step)` is used).

    A state split over devices (`pinnlib.parallel`) is saved whole: the shards are
    gathered, so the checkpoint does not depend on the device count it was written
    on. In a run of several processes every process calls `save` (the shards are
    gathered from all of them), process 0 writes, and all return when the
    checkpoint is complete.

    **Returns:** the path of the new checkpoint directory.

    **Raises:** `ValueError` for a bad `step`, `keep`, `history` or `metadata`.

    !!! example

        ```python
        result = pl.fit(step, state, sampler, 5000, args={"nu": nu})
        pl.checkpoint.save(
            "runs/burgers", result.state, history=result.history,
            metadata={"phase": "adam"}, keep=3,
        )  # -> runs/burgers/ckpt-000005000
        ```
    """
    state = on_host(state)
    step = _resolve_step(state, step)
    if keep is not None:
        keep = check_positive_int(f"{_WHERE}(keep=...)", keep)
    metadata = {} if metadata is None else metadata
    try:
        if not all(isinstance(key, str) for key in metadata):
            raise TypeError("keys must be strings")
        json.dumps(dict(metadata))
    except (TypeError, ValueError) as error:
        raise bad_argument(
            f"{_WHERE}(metadata=...)",
            "a JSON-serialisable dict with string keys",
            f"{type(metadata).__name__} ({error})",
            "Use str/int/float/bool/None, lists and dicts only.",
        ) from None
    history_bytes = _history_bytes(history)
    buffer = io.BytesIO()
    eqx.tree_serialise_leaves(buffer, keys_to_data(state))
    files = {layout.STATE: buffer.getvalue()}
    if history_bytes is not None:
        files[layout.HISTORY] = history_bytes
    now = datetime.datetime.now(datetime.UTC).astimezone()
    info = {
        "format": "pinnlib.checkpoint/1",
        "step": step,
        "time": now.isoformat(timespec="seconds"),
        "versions": _versions(),
        "loss": _last_loss(history),
        "metadata": dict(metadata),
        "files": {
            name: {"sha256": layout.sha256(data), "bytes": len(data)}
            for name, data in files.items()
        },
        "history": None if history is None else sorted(history),
        "leaves": describe(state),
    }
    files[layout.META] = _to_json(info).encode()
    directory = pathlib.Path(directory)
    final = directory / layout.dirname(step)
    if jax.process_index() == 0:
        _write(directory, step, files, keep, final)
    if jax.process_count() > 1:  # every process returns once the files are there
        multihost_utils.sync_global_devices(f"pinnlib.checkpoint.save {final}")
    return final


def _write(directory: pathlib.Path, step: int, files: dict, keep, final) -> None:
    """Write `files` into checkpoint `final` atomically, then prune to `keep`."""
    directory.mkdir(parents=True, exist_ok=True)
    prefix = f"{layout.TMP_PREFIX}{step:09d}-"
    tmp = pathlib.Path(
        tempfile.mkdtemp(prefix=prefix, suffix=f"-{os.getpid()}", dir=directory)
    )
    try:
        for name, data in files.items():  # meta.json last
            layout.write_file(tmp / name, data)
        layout.fsync_dir(tmp)
        layout.put_in_place(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    layout.fsync_dir(directory)
    if keep is not None:
        _prune(directory, keep, final)
