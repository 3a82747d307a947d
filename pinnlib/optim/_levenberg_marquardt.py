"""Levenberg–Marquardt (trust-region Gauss–Newton) as an optax transformation."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, PRNGKeyArray

from .._errors import bad_argument
from . import _sketch
from ._solve import (
    check_solver_and_jacobian,
    direction,
    flat_problem,
    solve_matrix_free,
)

_WHERE = "pinnlib.optim.levenberg_marquardt"
_MAX_GROWTH = 2.0**40  # caps Nielsen's nu, which doubles at every rejection


class LevenbergMarquardtState(NamedTuple):
    """State of `pinnlib.optim.levenberg_marquardt`.

    **Fields:**

    - `learning_rate`: 1 if the last step was accepted, 0 if it was rejected (the
      parameters then stayed put); recorded as `"lr"` in the history.
    - `damping`: $\\lambda$, adapted from step to step.
    - `growth`: $\\nu$, the factor applied to $\\lambda$ at the next rejection.
    - `ratio`: $\\rho$ of the last step, actual over predicted decrease ($-1$ when
      the trial loss was not finite or the predicted decrease not positive).
    - `key`: the PRNG key of the sketches (split at every step), or None without
      sketching.

    !!! example

        ```python
        opt = pl.optim.levenberg_marquardt(damping=1e-3)
        state = opt.init(params)
        state.damping, state.learning_rate   # 1e-3, 0.0
        ```
    """

    learning_rate: Float[Array, ""]
    damping: Float[Array, ""]
    growth: Float[Array, ""]
    ratio: Float[Array, ""]
    key: PRNGKeyArray | None

    # The least-squares protocol: a training step that finds this state anywhere in
    # the optimizer state (also inside optax.chain or a wrapper) passes `update` the
    # residual vector and its Jacobian as `residual_fn` and `jacobian_fn`.
    needs_residuals = True


class LevenbergMarquardt(optax.GradientTransformationExtraArgs):
    """The optax transformation returned by `pinnlib.optim.levenberg_marquardt`.

    Its `update` needs the keyword arguments `value`, `value_fn`, `residual_fn`
    and `jacobian_fn`, which the step of `pinnlib.training` passes to it.

    !!! example

        ```python
        opt = pl.optim.levenberg_marquardt()
        isinstance(opt, pl.optim.LevenbergMarquardt)   # True
        ```
    """

    __slots__ = ()


def _positive(name: str, value, fix: str) -> None:
    if not (isinstance(value, int | float) and np.isfinite(value) and value > 0):
        raise bad_argument(f"{_WHERE}({name}=...)", "a finite number > 0", value, fix)


def _sketch_size(name: str, value) -> None:
    ok = value is None or (isinstance(value, int | np.integer) and value > 0)
    if isinstance(value, bool) or not ok:
        raise bad_argument(
            f"{_WHERE}({name}=...)",
            "None or a positive int",
            value,
            "Pass e.g. 512 (sizes at least the full dimension sketch nothing).",
        )


def _check(damping, min_damping, max_damping, accept_ratio, solver, jacobian, scaling):
    _positive("damping", damping, "Pass e.g. damping=1e-3; it adapts from there.")
    _positive("min_damping", min_damping, "Pass e.g. min_damping=1e-12.")
    _positive("max_damping", max_damping, "Pass e.g. max_damping=1e12.")
    if not min_damping <= damping <= max_damping:
        raise bad_argument(
            f"{_WHERE}(damping=...)",
            f"a value in [min_damping, max_damping] = [{min_damping}, {max_damping}]",
            damping,
            "Widen the bounds or pass a damping between them.",
        )
    if not (isinstance(accept_ratio, int | float) and 0 <= accept_ratio < 1):
        raise bad_argument(
            f"{_WHERE}(accept_ratio=...)",
            "a number in [0, 1)",
            accept_ratio,
            "Pass e.g. accept_ratio=1e-4: a step is kept when it achieves that "
            "fraction of the decrease the Gauss–Newton model predicts.",
        )
    check_solver_and_jacobian(_WHERE, solver, jacobian)
    if scaling not in ("identity", "marquardt"):
        raise bad_argument(
            f"{_WHERE}(scaling=...)",
            "'identity' or 'marquardt'",
            scaling,
            "Use 'identity' (lambda I) or 'marquardt' (lambda diag(J^T J)).",
        )


def _check_variant(solver, scaling, residual_sketch, parameter_sketch, key):
    _sketch_size("residual_sketch", residual_sketch)
    _sketch_size("parameter_sketch", parameter_sketch)
    sketched = residual_sketch is not None or parameter_sketch is not None
    if isinstance(solver, lx.CG) and (sketched or scaling != "identity"):
        raise bad_argument(
            f"{_WHERE}(solver=lx.CG(...))",
            "scaling='identity' and no sketch (CG never forms the Jacobian)",
            f"scaling={scaling!r}, residual_sketch={residual_sketch}, "
            f"parameter_sketch={parameter_sketch}",
            "Use a dense solver (lx.Cholesky()) to sketch or to scale.",
        )
    is_key = isinstance(key, jax.Array) and jnp.issubdtype(
        key.dtype, jax.dtypes.prng_key
    )
    if sketched and not (is_key and key.shape == ()):
        raise bad_argument(
            f"{_WHERE}(key=...)",
            "a PRNG key (jax.random.key(...)) for the sketches",
            key if key is None else type(key).__name__,
            "Pass key=jax.random.key(0); a fresh sketch is drawn from it every step.",
        )
    return sketched


def _scaled(J: Float[Array, "N P"]) -> tuple[Float[Array, "N P"], Float[Array, " P"]]:
    """$J D^{-1/2}$ and $D^{-1/2}$, $D = \\operatorname{diag}(J^\\top J)$ (floored)."""
    diag = jnp.sum(J * J, axis=0)
    floor = jnp.finfo(J.dtype).eps * jnp.max(diag) + jnp.finfo(J.dtype).tiny
    inv_sqrt = jax.lax.rsqrt(jnp.maximum(diag, floor))
    return J * inv_sqrt[None, :], inv_sqrt


def _dense_step(r, J, damping, solver, sizes, key):
    """The damped step $e$ for the Jacobian `J` (sketched if `sizes` say so)."""
    n, p = J.shape
    rows, cols = sizes
    Sr, SJ = r, J
    if rows is not None:
        assert key is not None
        left = _sketch.draw(jax.random.fold_in(key, 0), n, min(rows, n), J.dtype)
        scale = jnp.sqrt(jnp.asarray(n / left.rows.shape[0], J.dtype))
        Sr, SJ = scale * _sketch.apply(left, r), scale * _sketch.apply(left, J)
    right = None
    if cols is not None:
        assert key is not None
        right = _sketch.draw(jax.random.fold_in(key, 1), p, min(cols, p), J.dtype)
        SJ = _sketch.apply(right, SJ.T).T
    y0 = jnp.zeros(SJ.shape[1], J.dtype)
    y = direction(lambda f: Sr, lambda f: (Sr, SJ), y0, damping, solver)
    return y if right is None else _sketch.lift(right, y)


def _ratio(value, trial, pred, accept_ratio):
    """$\\rho$ (finite: $-1$ for a failed trial) and whether the step is accepted."""
    actual = value - trial
    ok = jnp.isfinite(trial) & jnp.isfinite(pred) & (pred > 0)
    rho = jnp.where(ok, actual / jnp.where(ok, pred, 1), -1)
    rho = jnp.where(jnp.isfinite(rho), rho, -1)
    return rho, ok & (rho > accept_ratio)


def _adapt(state, rho, accepted, bounds):
    """Nielsen's rule: shrink $\\lambda$ smoothly on success, grow it by $\\nu$ on failure."""
    shrink = jnp.maximum(1 / 3, 1 - (2 * rho - 1) ** 3)
    damping = jnp.where(accepted, state.damping * shrink, state.damping * state.growth)
    growth = jnp.where(accepted, 2.0, jnp.minimum(2 * state.growth, _MAX_GROWTH))
    return state._replace(
        damping=jnp.clip(damping, *bounds).astype(state.damping.dtype),
        growth=growth.astype(state.growth.dtype),
        ratio=rho.astype(state.ratio.dtype),
        learning_rate=accepted.astype(state.learning_rate.dtype),
    )


def levenberg_marquardt(
    *,
    damping: float = 1e-3,
    solver=lx.Cholesky(),
    jacobian="per_point",
    scaling="identity",
    residual_sketch=None,
    parameter_sketch=None,
    key=None,
    accept_ratio: float = 1e-4,
    min_damping: float = 1e-12,
    max_damping: float = 1e12,
) -> LevenbergMarquardt:
    r"""Levenberg–Marquardt: Gauss–Newton in a trust region, with adaptive damping.

    For a least-squares loss $\mathcal{L}(\theta) = \|r(\theta)\|^2$ (the weighted
    residual vector of `CompositeLoss.residuals`), with $J = \partial r/\partial
    \theta$, each step solves

    $$(J^\top J + \lambda D)\, d = J^\top r ,$$

    ($D = I$, or $D = \operatorname{diag}(J^\top J)$ with `scaling="marquardt"`),
    and compares the decrease the Gauss–Newton model predicts with the actual one
    (one extra loss evaluation):

    $$\rho = \frac{\mathcal{L}(\theta) - \mathcal{L}(\theta - d)}
    {\|r\|^2 - \|r - J d\|^2} .$$

    The predicted decrease is computed from $Jd$ (a matrix-vector product with the
    dense $J$, or one JVP matrix-free). If $\rho > \eta_1$ (`accept_ratio`) the step
    is taken, $\theta \leftarrow \theta - d$; otherwise the parameters stay put
    (`"lr"` records 1 or 0). The damping then follows Nielsen's rule (Nielsen 1999;
    the Levenberg–Marquardt algorithm of Madsen, Nielsen & Tingleff 2004):

    $$\text{accepted:}\ \lambda \leftarrow \lambda \max\!\big(\tfrac13,
    1 - (2\rho - 1)^3\big),\ \nu \leftarrow 2; \qquad
    \text{rejected:}\ \lambda \leftarrow \nu\lambda,\ \nu \leftarrow 2\nu ,$$

    clamped to $[\lambda_{\min}, \lambda_{\max}]$ ($\nu$ starts at 2 and is capped at
    $2^{40}$). Where Marquardt (1963) multiplies or divides $\lambda$ by a constant
    factor, this rule changes it smoothly with $\rho$: a good model ($\rho \approx
    1$) lets $\lambda$ fall by 3 per step towards pure Gauss–Newton, a poor one
    keeps or raises it, so the damping follows the problem instead of a value fixed
    in advance (as in `pinnlib.optim.gauss_newton`), and no line search is needed.

    **Variants** (all keyword-only arguments):

    - Dense (default): $J$ is formed (`jacobian`) and the damped system is solved by
      `solver`: `lx.Cholesky()` on the normal equations of the smaller side, or
      `lx.QR()` / `lx.SVD()` on the stacked system $[J; \sqrt\lambda I]$.
    - Matrix-free: `solver=lx.CG(rtol=..., atol=..., max_steps=...)`; each CG
      iteration applies $v \mapsto J^\top (J v) + \lambda v$ with one JVP and one
      VJP, and $J$ is never formed.
    - Sketched: `residual_sketch=s` and/or `parameter_sketch=k` (with `key`). Each
      step draws fresh subsampled randomised cosine transforms
      $S \in \mathbb{R}^{s\times N}$ (scaled by $\sqrt{N/s}$, so $\mathbb{E}\,S^\top S
      = I$) and $\Omega \in \mathbb{R}^{P \times k}$ (orthonormal columns), and takes
      the Levenberg–Marquardt step of the doubly-sketched model in the subspace
      $\operatorname{range}\Omega$:
      $$d = \Omega y, \qquad y = \arg\min_y \|S r - S J \Omega y\|^2 + \lambda \|y\|^2
      .$$
      This is the doubly-sketched Gauss–Newton model of Webb, Jerad & Cartis
      (2026), with two differences: the residual side is a randomised cosine
      transform rather than their count sketch (so that sizes $\ge N$ and $\ge P$
      give exactly the unsketched step), and $\lambda$ follows the ratio rule above
      instead of their adaptive-ratio probing. $\rho$ still uses the full $J$, so a
      sketch that predicts badly is rejected. $J$ is still formed and transformed
      ($O(NP\log(NP))$); the saving is in the solve, $O(sk\min(s,k))$ instead of
      $O(NP\min(N,P))$.

    `jacobian` is how the dense $J$ is formed: `"per_point"` (one reverse-mode
    gradient per point, `pinnlib.losses.residual_jacobian`), `"forward"`
    (`jax.jacfwd`) or `"reverse"` (`jax.jacrev`), as for
    `pinnlib.optim.gauss_newton`.

    The default $D = I$ keeps $\lambda$ the Tikhonov damping of
    `pinnlib.optim.gauss_newton` (the energy natural gradient of Müller & Zeinhofer
    2023), works matrix-free, and damps every direction alike; Marquardt's $D$ makes
    the step invariant to rescaling the parameters, but a column of $J$ that is
    almost zero (a dead unit) then gets almost no damping. Use float64: the
    normal equations square the condition number.

    **Arguments (all keyword-only):**

    - `damping`: the initial $\lambda > 0$ (it adapts from there).
    - `solver`: a lineax solver (see the variants).
    - `jacobian`: `"per_point"`, `"forward"` or `"reverse"`.
    - `scaling`: `"identity"` ($D = I$, default) or `"marquardt"` ($D =
      \operatorname{diag} J^\top J$, floored at $\epsilon \max D$; dense solvers only).
    - `residual_sketch`, `parameter_sketch`: the sketch sizes $s$ and $k$ (None: no
      sketch on that side; a size at least $N$ or $P$ keeps that side whole).
    - `key`: a PRNG key, required with a sketch; stored in the state and split at
      every step.
    - `accept_ratio`: $\eta_1 \in [0, 1)$, default $10^{-4}$.
    - `min_damping`, `max_damping`: the bounds of $\lambda$.

    **Returns:** a `LevenbergMarquardt` optax transformation, used like any optimizer
    with `pinnlib.training` (every loss term must be a least-squares term).

    **Raises:** `ValueError` for a bad argument, naming it.

    **References:** K. Levenberg, "A method for the solution of certain non-linear
    problems in least squares", Quart. Appl. Math. 2 (1944); D. W. Marquardt, "An
    algorithm for least-squares estimation of nonlinear parameters", J. SIAM 11
    (1963); H. B. Nielsen, "Damping parameter in Marquardt's method", IMM-REP-1999-05,
    DTU (1999); K. Madsen, H. B. Nielsen, O. Tingleff, "Methods for non-linear least
    squares problems", 2nd ed., DTU (2004); J. Webb, S. Jerad, C. Cartis, "An
    optimisation framework for the well-conditioned training of physics-informed
    neural networks", arXiv:2607.02194 (2026).

    !!! example

        ```python
        lm = pl.training(loss, pl.optim.levenberg_marquardt(damping=1e-3))
        state = lm.switch(adam_result.state, dtype=jnp.float64)
        out = pl.run(lm, state, batch, 500)
        out.metrics["lr"]   # 1.0 where a step was accepted, 0.0 where rejected

        sketched = pl.optim.levenberg_marquardt(
            residual_sketch=1024, parameter_sketch=256, key=jax.random.key(0)
        )
        ```
    """
    _check(damping, min_damping, max_damping, accept_ratio, solver, jacobian, scaling)
    sketched = _check_variant(solver, scaling, residual_sketch, parameter_sketch, key)
    bounds = (min_damping, max_damping)

    def init(params):
        dtype = ravel_pytree(params)[0].dtype
        return LevenbergMarquardtState(
            learning_rate=jnp.zeros((), dtype),
            damping=jnp.asarray(damping, dtype),
            growth=jnp.asarray(2.0, dtype),
            ratio=jnp.zeros((), dtype),
            key=key if sketched else None,
        )

    def damped_step(residual, full_jacobian, flat, state, step_key):
        """The step $d$ and $J d$ at `flat`."""
        if isinstance(solver, lx.CG):
            r, jvp = jax.linearize(residual, flat)
            d = solve_matrix_free(r, jvp, flat, state.damping, solver)
            return d, r, jvp(d)
        r, J = full_jacobian(flat)
        inv_sqrt = None
        if scaling == "marquardt":
            J, inv_sqrt = _scaled(J)
        sizes = (residual_sketch, parameter_sketch)
        e = _dense_step(r, J, state.damping, solver, sizes, step_key)
        return (e if inv_sqrt is None else inv_sqrt * e), r, J @ e

    def update(
        updates,
        state,
        params=None,
        *,
        value=None,
        value_fn=None,
        residual_fn=None,
        jacobian_fn=None,
        **extra,
    ):
        del updates, extra
        p = flat_problem(
            _WHERE, params, value, value_fn, residual_fn, jacobian_fn, jacobian
        )
        key, step_key = (
            (None, None) if state.key is None else jax.random.split(state.key)
        )
        d, r, Jd = damped_step(p.residual, p.jacobian, p.flat, state, step_key)
        predicted = 2 * jnp.dot(r, Jd) - jnp.dot(Jd, Jd)
        rho, accepted = _ratio(p.value, p.loss(p.flat - d), predicted, accept_ratio)
        new_state = _adapt(state, rho, accepted, bounds)._replace(key=key)
        step = jnp.where(accepted, -d, jnp.zeros_like(d))
        return p.unravel(step), new_state

    # optax's OptState alias has no None leaves; the state's `key` is None unsketched.
    return LevenbergMarquardt(init, update)  # pyright: ignore[reportArgumentType]
