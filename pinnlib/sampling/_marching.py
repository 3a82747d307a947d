"""Time marching: train on a growing time window [t0, T_k]."""

from collections.abc import Callable

import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from .._errors import check_positive_int, check_time_range
from ._base import SamplingContext, SamplingStrategy, check_candidates, draw_set


def window_end(
    step: Int[Array, ""] | int,
    *,
    num_windows: int,
    steps_per_window: int,
    t_range: tuple[float, float] = (0.0, 1.0),
) -> Float[Array, ""]:
    r"""$T_k = t_0 + (t_1 - t_0)\,\frac{k + 1}{K}$ with $k = \min(\lfloor s / S
    \rfloor, K - 1)$: the end of the time window at step $s$.

    **Arguments:** `step` $s$; `num_windows` $K$, `steps_per_window` $S$, `t_range`
    $(t_0, t_1)$ (keyword-only).

    !!! example

        ```python
        pl.sampling.window_end(2500, num_windows=4, steps_per_window=1000)  # 0.75
        ```
    """
    t0, t1 = t_range
    k = jnp.minimum(jnp.asarray(step) // steps_per_window, num_windows - 1)
    return t0 + (t1 - t0) * (k + 1) / num_windows


def time_marching(
    candidates: Callable,
    *,
    num_windows: int,
    steps_per_window: int,
    term: str = "pde",
    t_range: tuple[float, float] = (0.0, 1.0),
) -> SamplingStrategy:
    r"""Time marching: fresh points on a time window $[t_0, T_k]$ that grows.

    The window ends at $T_k$ (`window_end`): it starts as the first $1/K$ of the
    interval and grows by $1/K$ every `steps_per_window` steps until it covers
    $[t_0, t_1]$ (Wight & Zhao 2020; Mattey & Ghosh 2022 train window by window).
    At each update the points of `term` are drawn afresh from `candidates` and their
    time coordinate (the last) is mapped affinely from $[t_0, t_1]$ onto
    $[t_0, T_k]$, so uniform candidates stay uniform on the window.

    **Arguments:**

    - `candidates`: a sampler `key -> {name: (n, d) points}` over the whole
      space-time domain, with a set named `term`; its size is the batch size.
    - `num_windows` $K$, `steps_per_window`: the schedule (keyword-only).
    - `term`: the loss term whose points the strategy owns (default `"pde"`).
    - `t_range`: the domain's time interval $(t_0, t_1)$.

    **Returns:** a `SamplingStrategy` (stateless). Use `sample_every=1` in
    `pinnlib.make_step` for fresh points at every step.

    !!! example

        ```python
        draw = pl.domains.sampler(domain, pde=("interior", 512))
        strategy = pl.sampling.time_marching(draw, num_windows=4,
                                             steps_per_window=5000)
        step = pl.make_step(loss, adam, sampling=strategy, sample_every=1)
        ```
    """
    where = "pinnlib.sampling.time_marching"
    check_candidates(where, candidates)
    num_windows = check_positive_int(f"{where}(num_windows=...)", num_windows)
    steps_per_window = check_positive_int(
        f"{where}(steps_per_window=...)", steps_per_window
    )
    t0, t1 = check_time_range(f"{where}(t_range=...)", t_range)

    def points_at(key, step):
        points = draw_set(where, candidates, key, term)
        end = window_end(
            step,
            num_windows=num_windows,
            steps_per_window=steps_per_window,
            t_range=(t0, t1),
        )
        t = t0 + (points[:, -1] - t0) * ((end - t0) / (t1 - t0))
        return {term: points.at[:, -1].set(t.astype(points.dtype))}

    def init(key):
        return points_at(key, 0), None

    def update(state, context: SamplingContext):
        return points_at(context.key, context.step), state

    return SamplingStrategy(init, update)
