"""`load`: read a checkpoint back into a template, checking it on the way."""

import io
import json
import os
import pathlib
from typing import Any

import equinox as eqx
import numpy as np
from jaxtyping import PyTree

from . import _layout as layout
from ._leaves import data_to_keys, describe, keys_to_data, mismatch, placed_like

_WHERE = "pinnlib.checkpoint.load"


class Checkpoint(eqx.Module):
    """What `pinnlib.checkpoint.load` returns.

    **Fields:**

    - `state`: the saved pytree, with the template's structure and static parts.
    - `history`: `{name: array}` NumPy arrays as saved, or `None` if none was.
    - `metadata`: the user metadata given to `save` (a dict, `{}` if none).
    - `info`: the whole `meta.json` sidecar (step, time, versions, last loss,
      checksums, leaf descriptions, ...).
    - `path`: the checkpoint directory that was read.

    !!! example

        ```python
        ckpt = pl.checkpoint.load("runs/burgers", template)
        ckpt.info["step"], ckpt.metadata["phase"], ckpt.history["loss"][-1]
        ```
    """

    state: PyTree
    history: dict[str, np.ndarray] | None
    metadata: dict[str, Any]
    info: dict[str, Any]
    path: pathlib.Path


def _corrupt(
    path: pathlib.Path, name: str, why: str, where: str = _WHERE
) -> ValueError:
    return ValueError(
        f"{where}(path=...): {path / name} {why}: the checkpoint is corrupt or "
        "incomplete. Load an older checkpoint (delete this directory to make "
        "`latest` skip it) or save again."
    )


def _resolve(path: pathlib.Path, where: str = _WHERE) -> pathlib.Path:
    if not path.exists():
        raise FileNotFoundError(f"{where}(path=...): {path} does not exist.")
    if (path / layout.META).exists() or layout.is_checkpoint_name(path):
        return path
    found = layout.latest(path)
    if found is None:
        raise FileNotFoundError(
            f"{where}(path=...): no complete checkpoint (ckpt-*/ with state.eqx "
            f"and meta.json) in {path}. Pass a directory given to "
            "pl.checkpoint.save, or one of its ckpt-* subdirectories."
        )
    return found


def _read_info(path: pathlib.Path, where: str = _WHERE) -> dict:
    try:
        info = json.loads((path / layout.META).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _corrupt(path, layout.META, "is missing", where) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _corrupt(path, layout.META, f"cannot be read ({error})", where) from None
    keys = {"step", "metadata", "files", "leaves"}
    if not isinstance(info, dict) or not keys <= set(info):
        raise _corrupt(path, layout.META, "lacks entries " + str(sorted(keys)), where)
    return info


def read_info(path: str | os.PathLike) -> dict:
    r"""The readable sidecar (`meta.json`) of a checkpoint, without loading its state.

    Use it to decide which template to load with, e.g. from the `metadata` a phased
    run stored (`{"phase": 2}`).

    **Arguments:** `path`: a checkpoint directory, or the directory given to `save`
    (then the latest checkpoint's).

    **Returns:** the dict of `meta.json`: `step`, `time`, `versions`, `loss`,
    `metadata`, `files`, `history`, `leaves`.

    **Raises:** `FileNotFoundError` if there is no checkpoint; `ValueError` if
    `meta.json` is missing or unreadable.

    !!! example

        ```python
        info = pl.checkpoint.read_info("runs/burgers")
        info["step"], info["metadata"]["phase"]
        ```
    """
    where = "pinnlib.checkpoint.read_info"
    return _read_info(_resolve(pathlib.Path(path), where), where)


def _read_checked(path: pathlib.Path, name: str, info: dict) -> bytes:
    expected = info["files"].get(name)
    if expected is None:
        raise _corrupt(path, layout.META, f"has no checksum for {name}")
    try:
        data = (path / name).read_bytes()
    except FileNotFoundError:
        raise _corrupt(path, name, "is missing") from None
    except OSError as error:
        raise _corrupt(path, name, f"cannot be read ({error})") from None
    if len(data) != expected["bytes"]:
        why = f"has {len(data)} bytes but {expected['bytes']} were saved (truncated?)"
        raise _corrupt(path, name, why)
    if layout.sha256(data) != expected["sha256"]:
        raise _corrupt(path, name, "does not match its sha256 checksum in meta.json")
    return data


def _read_state(path: pathlib.Path, info: dict, template):
    data = _read_checked(path, layout.STATE, info)
    file = io.BytesIO(data)
    try:
        state = eqx.tree_deserialise_leaves(
            file, keys_to_data(template), filter_spec=placed_like
        )
    except Exception as error:
        why = f"cannot be deserialised ({type(error).__name__}: {error})"
        raise _corrupt(path, layout.STATE, why) from None
    if file.tell() != len(data):
        raise _corrupt(path, layout.STATE, "has trailing data")
    return data_to_keys(state, info["leaves"])


def _read_history(path: pathlib.Path, info: dict) -> dict[str, np.ndarray] | None:
    if info.get("history") is None:
        return None
    data = _read_checked(path, layout.HISTORY, info)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except Exception as error:
        why = f"cannot be read ({type(error).__name__}: {error})"
        raise _corrupt(path, layout.HISTORY, why) from None


def load(path: str | os.PathLike, template: PyTree) -> Checkpoint:
    r"""Load a checkpoint written by `pinnlib.checkpoint.save`, bit for bit.

    As with `equinox.tree_deserialise_leaves`, the tree structure and the static
    parts come from `template`, a pytree built the same way as the saved state
    (e.g. a fresh `pl.init_state(model, optimizer, loss, key=...)` for the same
    architecture, optimizer, loss terms and dtype; `eqx.filter_eval_shape` of that
    works too). Before reading, the path, shape and dtype of every leaf of
    `template` are compared with those recorded in `meta.json`, and the sha256
    checksums of the files are verified.

    Each array is placed like the template's: on its devices, with its sharding.
    A checkpoint written on 8 devices restores onto 1 from a template built on one
    device, and onto a mesh from a template placed there
    (`pinnlib.parallel.shard_state(template, mesh)`), whatever the device count it
    was written on.

    **Arguments:**

    - `path`: a checkpoint directory (`.../ckpt-000005000`), or the directory given
      to `save`, in which case the latest checkpoint (highest step) is loaded.
    - `template`: a pytree with the structure, shapes and dtypes of the saved one.

    **Returns:** a `pinnlib.checkpoint.Checkpoint` with `state`, `history`,
    `metadata`, `info` (all of `meta.json`) and `path`.

    **Raises:**

    - `FileNotFoundError` if `path` does not exist or holds no checkpoint.
    - `ValueError` naming the first leaf whose path, shape or dtype differs between
      checkpoint and template (and the paths found on one side only), or naming
      the file of a corrupt or incomplete checkpoint (checksum mismatch,
      truncated, missing or unreadable file).

    !!! example

        ```python
        template = pl.init_state(u, optax.adam(1e-3), loss, key=jax.random.key(1))
        ckpt = pl.checkpoint.load("runs/burgers", template)  # the latest one
        result = pl.fit(step, ckpt.state, sampler, 5000, history=ckpt.history)
        ```
    """
    path = _resolve(pathlib.Path(path))
    info = _read_info(path)
    problem = mismatch(info["leaves"], describe(template))
    if problem is not None:
        raise ValueError(f"{_WHERE}(template=...): {problem}")
    state = _read_state(path, info, template)
    history = _read_history(path, info)
    return Checkpoint(
        state=state,
        history=history,
        metadata=info["metadata"],
        info=info,
        path=path,
    )
