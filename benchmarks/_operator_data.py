"""Operator-learning data for the benchmarks: Burgers and Darcy pairs, optionally cached.

Both come from `pinnlib.data` (real solvers, float32): the training and test sets
from separate keys, `fold_in(key(seed), 0)` and `fold_in(key(seed), 1)`. With
`cache=DIR` the arrays are saved to (and later loaded from)
`DIR/<problem>_<n_train>_<n_test>_<seed>.npz`; `data_s` is then about 0.

    (train_in, train_out, test_in, test_out), data_s = burgers_data(1000, 200)
"""

import os
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import pinnlib as pl

_NAMES = ("train_inputs", "train_targets", "test_inputs", "test_targets")
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _load_or_make(problem, pairs, n_train, n_test, seed, cache) -> tuple[Arrays, float]:
    path = None
    if cache is not None:
        path = Path(cache) / f"{problem}_{n_train}_{n_test}_{seed}.npz"
        if path.exists():
            with np.load(path) as data:
                return tuple(data[name] for name in _NAMES), 0.0  # type: ignore[return-value]
    start = time.perf_counter()
    key = jax.random.key(seed)
    train = pairs(jax.random.fold_in(key, 0), n_train, dtype=jnp.float32)
    test = pairs(jax.random.fold_in(key, 1), n_test, dtype=jnp.float32)
    arrays = tuple(
        np.asarray(jax.block_until_ready(x), np.float32) for x in (*train, *test)
    )
    data_s = time.perf_counter() - start
    if path is not None:  # written to a temporary file, then renamed: never partial
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=path.parent)
        with os.fdopen(fd, "wb") as file:
            np.savez(file, **dict(zip(_NAMES, arrays)))
        os.replace(tmp, path)
    return arrays, data_s  # type: ignore[return-value]


def burgers_data(
    n_train: int, n_test: int, *, seed: int = 0, cache: str | None = None
) -> tuple[Arrays, float]:
    """Burgers pairs `(u0, u(·, 1))` on 256 points: arrays `(n, 256)`, and seconds.

    `pl.data.burgers_pairs`: u_t + (u²/2)_x = 0.01 u_xx on [0, 1) periodic,
    u0 ~ N(0, 625(−Δ + 25I)⁻²) with zero mean mode, x_j = j/256.
    """
    return _load_or_make("burgers", pl.data.burgers_pairs, n_train, n_test, seed, cache)


def darcy_data(
    n_train: int, n_test: int, *, seed: int = 0, cache: str | None = None
) -> tuple[Arrays, float]:
    """Darcy pairs `(a, u)` on the 64 × 64 node grid: arrays `(n, 64, 64)`, and seconds.

    `pl.data.darcy_pairs`: −∇·(a∇u) = 1 on [0, 1]², u = 0 on the boundary, a = 12
    where f ≥ 0 and 3 where f < 0, f ~ N(0, (−Δ + 9I)⁻²) in zero-Neumann modes.
    """
    return _load_or_make("darcy", pl.data.darcy_pairs, n_train, n_test, seed, cache)
