"""Residual-based adaptive sampling (Wu et al. 2023): RAD and RAR-D."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from .._errors import bad_argument, check_finite, check_positive_int
from ._base import (
    SamplingContext,
    SamplingStrategy,
    check_candidates,
    draw_set,
    pointwise_residual,
)


def residual_density(
    residuals: Float[Array, " n"],
    k: float | ArrayLike = 1.0,
    c: float | ArrayLike = 1.0,
) -> Float[Array, " n"]:
    r"""The sampling probabilities of Wu et al. (2023) over candidate points.

    $$p_i \propto \frac{|r_i|^k}{\frac1N\sum_j |r_j|^k} + c,$$

    normalised to sum to one. $k$ sharpens the density around large residuals; $c$
    mixes in the uniform density (with $c \to \infty$ the sampling is uniform). When
    every residual is zero, the density is uniform.

    **Arguments:** `residuals`: $|r_i|$, shape `(N,)`; `k` $\ge 0$; `c` $\ge 0$
    (not both of $c$ and every $|r_i|^k$ zero).

    **Returns:** $p$, shape `(N,)`, summing to one.

    !!! example

        ```python
        pl.sampling.residual_density(jnp.array([0.0, 1.0, 3.0]), k=1.0, c=0.0)
        # [0, 0.25, 0.75]
        ```
    """
    powered = jnp.abs(residuals) ** k
    mean = jnp.mean(powered)
    scaled = jnp.where(mean > 0, powered / jnp.where(mean > 0, mean, 1.0), 1.0)
    density = scaled + c
    return density / jnp.sum(density)


def choose(
    key: PRNGKeyArray, probabilities: Float[Array, " N"], num: int
) -> Int[Array, " num"]:
    r"""`num` distinct indices drawn without replacement with probabilities $p$.

    Gumbel top-$k$: the indices of the `num` largest $\log p_i + g_i$, $g_i$ standard
    Gumbel, are a draw of successive sampling without replacement (each next index
    chosen with probability $\propto p_i$ among those left). One `lax.top_k`, no
    sort.

    !!! example

        ```python
        idx = pl.sampling.choose(jax.random.key(0), p, 500)
        ```
    """
    gumbel = jax.random.gumbel(key, probabilities.shape, probabilities.dtype)
    logits = jnp.where(probabilities > 0, jnp.log(probabilities), -jnp.inf)
    return jax.lax.top_k(logits + gumbel, num)[1]


def _checked(where, candidates, term, num_points, k, c):
    check_candidates(where, candidates)
    if not isinstance(term, str):
        raise bad_argument(
            f"{where}(term=...)", "a loss term's name", term, "Pass e.g. term='pde'."
        )
    num_points = check_positive_int(f"{where}(num_points=...)", num_points)
    shape = jax.eval_shape(
        lambda key: draw_set(where, candidates, key, term), jax.random.key(0)
    ).shape
    if shape[0] < num_points:
        raise bad_argument(
            f"{where}(num_points=...)",
            f"at most the {shape[0]} candidates drawn per update",
            num_points,
            "Draw more candidates than points (Wu et al. use about 10x or more).",
        )
    for name, value in (("k", k), ("c", c)):
        check_finite(f"{where}({name}=...)", value)
        if value < 0:
            raise bad_argument(
                f"{where}({name}=...)", "a number >= 0", value, "Pass e.g. 1.0."
            )
    return num_points


def _draw_by_residual(where, candidates, term, pde, k, c, context, num):
    """`num` candidates drawn by the residual density at the context's model."""
    draw_key, choose_key = jax.random.split(context.key)
    pool = draw_set(where, candidates, draw_key, term)
    r = jax.lax.stop_gradient(pointwise_residual(where, context, term, pde, pool))
    p = residual_density(r, k, c)
    return pool[choose(choose_key, p, num)]


def rad(
    candidates: Callable,
    *,
    num_points: int,
    term: str = "pde",
    pde: Callable | None = None,
    k: float = 1.0,
    c: float = 1.0,
) -> SamplingStrategy:
    r"""Residual-based adaptive distribution (RAD; Wu, Zhu, Tan, Kartha & Lu 2023).

    "A comprehensive study of non-adaptive and residual-based adaptive sampling for
    physics-informed neural networks", Comput. Methods Appl. Mech. Eng. 403 (2023).
    At each update, the whole point set of `term` is replaced by `num_points`
    points drawn without replacement from a fresh pool of candidates with
    probability (`residual_density`)

    $$p(x) \propto \frac{|r(x)|^k}{\mathbb{E}[|r|^k]} + c.$$

    The paper's default $k = 1$, $c = 1$ works well across its benchmarks.

    **Arguments:**

    - `candidates`: a sampler `key -> {name: (N, d) points}` with a set named `term`
      (`pinnlib.domains.sampler(domain, pde=("interior", N))`); $N$ is the pool size.
    - `num_points`: $n \le N$, the number of points kept (keyword-only).
    - `term`: the loss term whose points the strategy owns (default `"pde"`).
    - `pde`: the residual builder, e.g. `pl.pdes.allen_cahn`; by default the loss
      term's own per-point misfit (needed for terms without one, such as
      `pinnlib.losses.causal_residual`).
    - `k`, `c`: the density's exponent and offset, $\ge 0$.

    **Returns:** a `SamplingStrategy`; the initial points are the first
    `num_points` candidates of `candidates(key)` (uniform for a uniform sampler).

    !!! example

        ```python
        pool = pl.domains.sampler(domain, pde=("interior", 20_000))
        strategy = pl.sampling.rad(pool, num_points=2000, k=1.0, c=1.0)
        state = pl.init_state(u, adam, loss, key=key, sampling=strategy)
        step = pl.make_step(loss, adam, sampling=strategy, sample_every=1000)
        result = pl.fit(step, state, ic_and_bc_sampler, 20_000, resample_every=1)
        ```
    """
    where = "pinnlib.sampling.rad"
    num_points = _checked(where, candidates, term, num_points, k, c)

    def init(key):
        return {term: draw_set(where, candidates, key, term)[:num_points]}, None

    def update(state, context: SamplingContext):
        drawn = _draw_by_residual(
            where, candidates, term, pde, k, c, context, num_points
        )
        return {term: drawn}, state

    return SamplingStrategy(init, update)


def rar_d(
    candidates: Callable,
    *,
    num_points: int,
    num_added: int,
    num_initial: int | None = None,
    term: str = "pde",
    pde: Callable | None = None,
    k: float = 2.0,
    c: float = 0.0,
) -> SamplingStrategy:
    r"""Residual-based adaptive refinement with distribution (RAR-D; Wu et al. 2023).

    The paper's RAR-D starts from $n_0$ uniform points and, at each update, *adds*
    $m$ points drawn without replacement from a fresh pool of candidates with the
    density of `rad` (paper's default $k = 2$, $c = 0$). To keep shapes fixed
    inside the compiled loop, the point set is a buffer of `num_points` rows:

    - rows `[0, num_initial)` hold the $n_0$ initial uniform points, never replaced;
    - the other rows start as uniform filler; each update writes its $m$ new points
      over the next $m$ rows of this ring (the filler first, then, once every row
      has been refined, the oldest added points).

    So after $R \le (\text{num\_points} - n_0)/m$ updates the set is the paper's
    $n_0 + Rm$ points plus uniform filler that the next updates replace; the filler
    is the one departure from the paper (a growing array would recompile).

    **Arguments:**

    - `candidates`: a sampler `key -> {name: (N, d) points}` with a set named `term`.
    - `num_points`: the buffer size (keyword-only).
    - `num_added`: $m$ points per update, at most `num_points - num_initial`.
    - `num_initial`: $n_0$, default half of `num_points`.
    - `term`, `pde`, `k`, `c`: as in `rad`.

    **Returns:** a `SamplingStrategy` whose state is the ring position (int32).

    !!! example

        ```python
        pool = pl.domains.sampler(domain, pde=("interior", 10_000))
        strategy = pl.sampling.rar_d(pool, num_points=4000, num_added=100,
                                     num_initial=2000)
        step = pl.make_step(loss, adam, sampling=strategy, sample_every=500)
        ```
    """
    where = "pinnlib.sampling.rar_d"
    num_points = _checked(where, candidates, term, num_points, k, c)
    n0 = num_points // 2 if num_initial is None else num_initial
    if isinstance(n0, bool) or not isinstance(n0, int) or not 0 <= n0 < num_points:
        raise bad_argument(
            f"{where}(num_initial=...)",
            f"an int in [0, {num_points})",
            num_initial,
            "Keep fewer permanent points than the buffer holds.",
        )
    ring = num_points - n0
    num_added = check_positive_int(f"{where}(num_added=...)", num_added)
    if num_added > ring:
        raise bad_argument(
            f"{where}(num_added=...)",
            f"at most num_points - num_initial = {ring}",
            num_added,
            "Add fewer points per update or enlarge the buffer.",
        )

    def init(key):
        points = draw_set(where, candidates, key, term)[:num_points]
        return {term: points}, jnp.zeros((), jnp.int32)

    def update(cursor, context: SamplingContext):
        new = _draw_by_residual(where, candidates, term, pde, k, c, context, num_added)
        rows = n0 + (cursor + jnp.arange(num_added)) % ring
        points = (
            context.points[term].at[rows].set(new.astype(context.points[term].dtype))
        )
        return {term: points}, (cursor + num_added) % ring

    return SamplingStrategy(init, update)
