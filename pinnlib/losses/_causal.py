"""Causal weighting of a time-dependent residual (Wang, Sankaran & Perdikaris 2022)."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import Args, PointFn
from .._errors import (
    bad_argument,
    check_finite,
    check_points,
    check_positive_int,
    check_time_range,
)
from ._args import accepted_keys
from ._terms import _residual_at

TOLERANCE_ARG = "causal_tolerance"


def causal_weights(
    chunk_losses: Float[Array, " M"], tolerance: Float[Array, ""] | float
) -> Float[Array, " M"]:
    r"""Causal weights $w_i = \exp(-\varepsilon \sum_{j<i} \mathcal{L}_j)$, $w_0 = 1$.

    A time chunk gets weight only once the residual of every earlier chunk is small,
    so the network learns the solution forward in time. The weights are computed
    under `jax.lax.stop_gradient` and are non-increasing in $i$.

    **Arguments:** `chunk_losses`: $\mathcal{L}_i$, shape `(M,)`, non-negative;
    `tolerance`: $\varepsilon \ge 0$.

    **Returns:** the weights, shape `(M,)`.

    !!! example

        ```python
        pl.losses.causal_weights(jnp.array([1.0, 2.0, 3.0]), 0.5)
        # [1, exp(-0.5), exp(-1.5)]
        ```
    """
    losses = jax.lax.stop_gradient(chunk_losses)
    before = jnp.cumsum(losses) - losses
    return jnp.exp(-tolerance * before)


def causal_residual(
    pde: Callable[..., PointFn],
    *,
    num_chunks: int = 32,
    t_range: tuple[float, float] = (0.0, 1.0),
    tolerance: float = 1.0,
) -> "CausalResidual":
    r"""Causally weighted residual loss for space-time points (time last).

    Wang, Sankaran & Perdikaris, "Respecting causality is all you need for training
    physics-informed neural networks" (2022). The time interval is split into $M$
    equal chunks; with $\mathcal{L}_i$ the mean squared residual of the points in
    chunk $i$,

    $$\mathcal{L} = \frac1M \sum_{i=0}^{M-1} w_i \mathcal{L}_i, \qquad
    w_i = \exp\Big(-\varepsilon \sum_{j<i} \mathcal{L}_j\Big)$$

    (`causal_weights`, held under `stop_gradient`). The tolerance $\varepsilon$ is
    usually raised in stages during training (e.g. 1, 10, 100): pass it in the loss
    `args` as `"causal_tolerance"` (a traced value, so changing it does not
    recompile), else `tolerance` is used. A chunk without points contributes 0.

    **Arguments:**

    - `pde`: a residual builder, as for `pinnlib.losses.residual`.
    - `num_chunks`: $M$ (keyword-only).
    - `t_range`: `(t0, t1)`, the time interval (keyword-only); points outside go to
      the first or last chunk.
    - `tolerance`: default $\varepsilon$ when `args` has no `"causal_tolerance"`.

    **Returns:** a `CausalResidual`, `term(model, points, args)` with `points` of
    shape `(n, d)`, time in the last column. Its `accepts` attribute, the `args`
    keys it reads, is those of `pde` and `"causal_tolerance"`. It is not a
    least-squares term (its weights depend on the residuals), so Gauss–Newton
    optimizers refuse it; `pinnlib.parallel.data_parallel` takes it (through its
    per-chunk sums).

    !!! example

        ```python
        term = pl.losses.causal_residual(pl.pdes.allen_cahn, num_chunks=32)
        loss = pl.losses.combine(pde=term, ic=pl.losses.initial(u0))
        result = pl.fit(step, state, sampler, 5000,
                        args={"causal_tolerance": 10.0})   # then 100.0, ...
        ```
    """
    where = "pinnlib.losses.causal_residual"
    num_chunks = check_positive_int(f"{where}(num_chunks=...)", num_chunks)
    t0, t1 = check_time_range(f"{where}(t_range=...)", t_range)
    check_finite(f"{where}(tolerance=...)", tolerance)
    if tolerance < 0:
        raise bad_argument(
            f"{where}(tolerance=...)", "a tolerance >= 0", tolerance, "Pass e.g. 1.0."
        )

    keys = accepted_keys(pde)  # the args it reads, checked by `combine`
    accepts = None if keys is None else frozenset(keys | {TOLERANCE_ARG})
    return CausalResidual(pde, num_chunks, (t0, t1), float(tolerance), accepts)


class CausalResidual(eqx.Module):
    r"""The causally weighted residual loss term: made by `causal_residual`.

    Calling it as `term(model, points, args)` gives $\mathcal{L}$. The value comes
    from per-chunk sums over the points, which add over any split of the points:

    - `statistics(model, points, args)`: $(S_i, C_i)_i$, the sums of the squared
      residuals and the numbers of points in each chunk, two arrays `(M,)`;
    - `from_statistics(stats, args)`: $\frac1M\sum_i w_i \mathcal{L}_i$ with
      $\mathcal{L}_i = S_i / \max(C_i, 1)$.

    `pinnlib.parallel.data_parallel` adds the statistics of every device's points
    and differentiates through them, so the weights are those of all the points.

    **Fields:** `pde`, `num_chunks`, `t_range`, `tolerance`, and `accepts` (the `args`
    keys it reads, as for `LeastSquaresTerm`).

    !!! example

        ```python
        term = pl.losses.causal_residual(pl.pdes.burgers, num_chunks=8)
        sums, counts = term.statistics(u, points, {"nu": nu})   # (8,), (8,)
        term.from_statistics((sums, counts), {"nu": nu})          # = term(u, points, ...)
        ```
    """

    pde: Callable[..., PointFn] = eqx.field(static=True)
    num_chunks: int = eqx.field(static=True)
    t_range: tuple[float, float] = eqx.field(static=True)
    tolerance: float = eqx.field(static=True)
    accepts: frozenset[str] | None = eqx.field(static=True, default=None)

    def statistics(
        self, model: PointFn, points: Any, args: Args = None
    ) -> tuple[Float[Array, " M"], Float[Array, " M"]]:
        """Per chunk, the sum of the squared residuals and the number of points."""
        check_points("pinnlib.losses.causal_residual: points", points)
        squares = _squares(_residual_at(self.pde, model, points, args))
        t0, t1 = self.t_range
        position = (points[:, -1] - t0) / (t1 - t0) * self.num_chunks
        chunk = jnp.floor(position).astype(jnp.int32)
        chunk = jnp.clip(chunk, 0, self.num_chunks - 1)
        sums = jax.ops.segment_sum(squares, chunk, num_segments=self.num_chunks)
        counts = jax.ops.segment_sum(
            jnp.ones_like(squares), chunk, num_segments=self.num_chunks
        )
        return sums, counts

    def from_statistics(self, stats: Any, args: Args = None) -> Float[Array, ""]:
        r"""$\frac1M\sum_i w_i \mathcal{L}_i$ from the chunks' sums and counts."""
        sums, counts = stats
        losses = sums / jnp.maximum(counts, 1)
        eps = self.tolerance
        if args is not None:
            eps = dict(args).get(TOLERANCE_ARG, eps)
        return jnp.mean(causal_weights(losses, eps) * losses)

    def __call__(
        self, model: PointFn, points: Any, args: Args = None
    ) -> Float[Array, ""]:
        return self.from_statistics(self.statistics(model, points, args), args)


def balanced_tolerance(
    pde: Callable[..., PointFn],
    model: PointFn,
    points: Float[Array, "n d"],
    *,
    num_chunks: int = 32,
    balance: float = 2.0,
    args: Args = None,
) -> Float[Array, ""]:
    r"""A causal tolerance that keeps the last chunk's weight near $e^{-b}$ as the loss falls.

    With a fixed tolerance, the causal weights all go to 1 once the residual is
    small, and the loss no longer favours early times. For points uniform in
    space-time with mean squared residual $\bar{\mathcal{L}}$, the chunk losses of
    `causal_residual` sum to about $M \bar{\mathcal{L}}$, so the last chunk's weight
    is about $\exp(-\varepsilon M \bar{\mathcal{L}})$ and

    $$\varepsilon = \frac{b}{M\, \bar{\mathcal{L}}}$$

    keeps it at $e^{-b}$. Evaluate it between stages and pass
    $\max(\varepsilon_{\text{schedule}}, \varepsilon)$ as `args["causal_tolerance"]`.
    This matters where errors made early in time grow: in Allen–Cahn, near the
    unstable state $u = 0$ they grow like $e^{5t}$.

    **Arguments:**

    - `pde`: the residual builder given to `causal_residual`.
    - `model`: the field.
    - `points`: `(n, d)` points uniform in space-time, time last (e.g. a few
      thousand from the training sampler).
    - `num_chunks`: $M$, as in `causal_residual` (keyword-only).
    - `balance`: $b > 0$ (keyword-only); `2.0` gives the last chunk weight
      $e^{-2} \approx 0.14$.
    - `args`: the loss arguments, for a `pde` that takes some (keyword-only).

    **Returns:** $\varepsilon$, a scalar array (jit-compatible).

    **Raises:** `ValueError` for a non-positive `balance` or `num_chunks`, or points
    that are not an `(n, d)` array.

    !!! example

        ```python
        points = pl.domains.sampler(domain, pde=("interior", 4096))(key)["pde"]
        eps = pl.losses.balanced_tolerance(pl.pdes.allen_cahn, u, points)
        args = {"causal_tolerance": max(64.0, float(eps))}
        ```
    """
    where = "pinnlib.losses.balanced_tolerance"
    num_chunks = check_positive_int(f"{where}(num_chunks=...)", num_chunks)
    check_finite(f"{where}(balance=...)", balance)
    if not balance > 0:
        raise bad_argument(
            f"{where}(balance=...)", "a balance > 0", balance, "Pass e.g. 2.0."
        )
    check_points(f"{where}(points=...)", points)
    # Per point, the squared residual summed over components, as `causal_residual`.
    mean_square = jnp.mean(_squares(_residual_at(pde, model, points, args)))
    tiny = jnp.finfo(mean_square.dtype).tiny
    return balance / (num_chunks * jnp.maximum(mean_square, tiny))


def _squares(r: Array) -> Float[Array, " n"]:
    r"""$\|r(x_k)\|^2$ per point: the squares summed over the residual's components."""
    return jnp.sum(jnp.square(r).reshape(r.shape[0], -1), axis=1)
