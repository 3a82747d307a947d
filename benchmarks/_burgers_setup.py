"""The standard Burgers PINN set-up (points and initial weights), in NumPy.

Reproduces the peer-comparison set-up bit for bit: 2540 interior, 80 boundary and
160 initial points (float32, seeded), an MLP 2-32-32-32-1 with Glorot-normal weights
and zero biases. Weights are (fan_in, fan_out) matrices: h_next = tanh(h @ W + b).
"""

import numpy as np

NU = 0.01 / np.pi
LAYERS = (2, 32, 32, 32, 1)
N_INTERIOR, N_BOUNDARY, N_INITIAL = 2540, 80, 160
_MARGIN = 1e-4


def _redraw(arr, bad_fn, draw_fn):
    bad = bad_fn(arr)
    while bad.any():
        arr[bad] = draw_fn(int(bad.sum()))
        bad = bad_fn(arr)
    return arr


def make_points(seed: int = 0) -> dict[str, np.ndarray]:
    """Interior (2540, 2), boundary (80, 2) and initial (160, 2) points, columns (x, t)."""
    rng = np.random.default_rng([seed, 1])
    near_edge = lambda a: 1.0 - np.abs(a) < _MARGIN  # noqa: E731
    near_zero = lambda a: a < _MARGIN  # noqa: E731
    x = _redraw(
        rng.uniform(-1.0, 1.0, N_INTERIOR),
        near_edge,
        lambda n: rng.uniform(-1.0, 1.0, n),
    )
    t = _redraw(
        rng.uniform(0.0, 1.0, N_INTERIOR), near_zero, lambda n: rng.uniform(0.0, 1.0, n)
    )
    half = N_BOUNDARY // 2
    tb = _redraw(
        rng.uniform(0.0, 1.0, half), near_zero, lambda n: rng.uniform(0.0, 1.0, n)
    )
    boundary = np.concatenate(
        [np.stack([-np.ones(half), tb], 1), np.stack([np.ones(half), tb], 1)], 0
    )
    xi = _redraw(
        rng.uniform(-1.0, 1.0, N_INITIAL),
        near_edge,
        lambda n: rng.uniform(-1.0, 1.0, n),
    )
    initial = np.stack([xi, np.zeros(N_INITIAL)], axis=1)
    f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    return {"pde": f32(np.stack([x, t], 1)), "bc": f32(boundary), "ic": f32(initial)}


def init_weights(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Glorot-normal (untruncated) weights and zero biases, float32."""
    rng = np.random.default_rng([seed, 2])
    params = []
    for fan_in, fan_out in zip(LAYERS[:-1], LAYERS[1:]):
        std = np.sqrt(2.0 / (fan_in + fan_out))
        w = rng.normal(0.0, std, size=(fan_in, fan_out)).astype(np.float32)
        params.append((w, np.zeros((fan_out,), np.float32)))
    return params
