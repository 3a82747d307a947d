"""Where checkpoints live on disk: names, listing, `latest`, and durable writes."""

import hashlib
import os
import pathlib
import re
import shutil
import uuid

STATE = "state.eqx"
HISTORY = "history.npz"
META = "meta.json"
TMP_PREFIX = ".tmp-ckpt-"
_NAME = re.compile(r"ckpt-(\d{9,})")


def dirname(step: int) -> str:
    """The name of the checkpoint directory for `step`, e.g. `ckpt-000001000`."""
    return f"ckpt-{step:09d}"


def checkpoints(directory: pathlib.Path) -> list[tuple[int, pathlib.Path]]:
    """Every `ckpt-{step}` directory in `directory`, complete or not, by step.

    Temporary and hidden directories (`.tmp-ckpt-...` from a killed process) never
    match the name pattern, so they are never listed.
    """
    if not directory.is_dir():
        return []
    found = []
    for entry in directory.iterdir():
        match = _NAME.fullmatch(entry.name)
        if match and entry.is_dir():
            found.append((int(match.group(1)), entry))
    return sorted(found)


def is_checkpoint_name(path: pathlib.Path) -> bool:
    """Whether `path` is named like a checkpoint directory."""
    return _NAME.fullmatch(path.name) is not None


def is_complete(path: pathlib.Path) -> bool:
    """Whether the checkpoint directory `path` holds its state and its sidecar."""
    return (path / META).is_file() and (path / STATE).is_file()


def latest(directory: str | os.PathLike) -> pathlib.Path | None:
    """The newest complete checkpoint in `directory` (the highest step), or `None`.

    Only directories named `ckpt-{step:09d}` that hold `state.eqx` and `meta.json`
    count; temporary directories left by a process killed while saving
    (`.tmp-ckpt-...`) are ignored.

    **Arguments:**

    - `directory`: the directory given to `pinnlib.checkpoint.save`.

    **Returns:** the path of the checkpoint directory, or `None` if there is no
    checkpoint or `directory` does not exist.

    !!! example

        ```python
        path = pl.checkpoint.latest("runs/burgers")
        if path is not None:
            state = pl.checkpoint.load(path, template).state
        ```
    """
    complete = [path for _, path in checkpoints(pathlib.Path(directory))]
    complete = [path for path in complete if is_complete(path)]
    return complete[-1] if complete else None


def sha256(data: bytes) -> str:
    """The hex sha256 digest of `data`."""
    return hashlib.sha256(data).hexdigest()


def write_file(path: pathlib.Path, data: bytes) -> None:
    """Write `data` to a new file at `path` and flush it to disk (fsync)."""
    with open(path, "xb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def fsync_dir(path: pathlib.Path) -> None:
    """Flush a directory's entries to disk (a no-op where unsupported, e.g. Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove(path: pathlib.Path) -> None:
    """Delete a checkpoint directory: first hide it by renaming, then delete it.

    A process killed while deleting leaves a hidden directory, never a partial
    checkpoint that looks complete.
    """
    hidden = path.with_name(f".del-{path.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.rename(path, hidden)
    shutil.rmtree(hidden, ignore_errors=True)


def put_in_place(tmp: pathlib.Path, final: pathlib.Path) -> None:
    """Rename the finished directory `tmp` to `final`, replacing an old `final`.

    The old checkpoint of the same step is renamed away first (POSIX cannot
    atomically replace a non-empty directory), then deleted once the new one is
    in place.
    """
    if not final.exists():
        os.rename(tmp, final)
        return
    old = final.with_name(f".old-{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.rename(final, old)
    try:
        os.rename(tmp, final)
    except BaseException:
        os.rename(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)
