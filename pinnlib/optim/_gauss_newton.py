"""Gauss–Newton / energy natural gradient as an optax transformation."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float

from .._errors import bad_argument
from ._solve import check_solver_and_jacobian, direction, flat_problem


class GaussNewtonState(NamedTuple):
    """State of `pinnlib.optim.gauss_newton`.

    **Fields:** `learning_rate`: the step length the line search chose at the last
    step (0 when no trial decreased the loss; recorded as `"lr"` in the history);
    `damping`: $\\lambda$, a scalar.

    !!! example

        ```python
        opt = pl.optim.gauss_newton(damping=1e-8)
        opt.init(params).damping   # 1e-8
        ```
    """

    learning_rate: Float[Array, ""]
    damping: Float[Array, ""]

    # The least-squares protocol: a training step that finds this state anywhere in
    # the optimizer state (also inside optax.chain or a wrapper) passes `update` the
    # residual vector and its Jacobian as `residual_fn` and `jacobian_fn`.
    needs_residuals = True


class GaussNewton(optax.GradientTransformationExtraArgs):
    """The optax transformation returned by `pinnlib.optim.gauss_newton`.

    Its `update` needs the keyword arguments `value`, `value_fn`, `residual_fn`
    (parameters to residual vector) and `jacobian_fn` (parameters to the residual
    and its per-point Jacobian), which `pinnlib.make_step` passes when it is given
    a `GaussNewton`.

    !!! example

        ```python
        opt = pl.optim.gauss_newton()
        isinstance(opt, pl.optim.GaussNewton)   # True
        ```
    """

    __slots__ = ()


def _check(damping, step_sizes, jacobian, solver):
    if not (isinstance(damping, int | float) and np.isfinite(damping) and damping >= 0):
        raise bad_argument(
            "pinnlib.optim.gauss_newton(damping=...)",
            "a finite number >= 0",
            damping,
            "Pass e.g. damping=1e-8 (larger is more robust, smaller converges faster).",
        )
    sizes = np.asarray(step_sizes, np.float64)
    if sizes.ndim != 1 or sizes.size == 0 or not np.all((sizes > 0) & (sizes <= 1e3)):
        raise bad_argument(
            "pinnlib.optim.gauss_newton(step_sizes=...)",
            "a non-empty sequence of positive step lengths",
            step_sizes,
            "Pass e.g. [0.5**k for k in range(20)].",
        )
    check_solver_and_jacobian("pinnlib.optim.gauss_newton", solver, jacobian)
    return sizes


def gauss_newton(
    *,
    damping: float = 1e-10,
    solver=lx.Cholesky(),
    step_sizes=tuple(0.5**k for k in range(30)),
    jacobian="per_point",
) -> GaussNewton:
    r"""Damped Gauss–Newton with a line search: energy natural gradient for linear PDEs.

    For a least-squares loss $\mathcal{L}(\theta) = \|r(\theta)\|^2$ (the weighted
    residual vector of `CompositeLoss.residuals`: every PDE residual, boundary and
    data misfit at every point), with $J = \partial r / \partial\theta$, each step is

    $$d = (J^\top J + \lambda I)^{-1} J^\top r, \qquad
    \eta^\star = \arg\min_{\eta \in \text{step\_sizes}} \mathcal{L}(\theta - \eta d),
    \qquad \theta \leftarrow \theta - \eta^\star d .$$

    For a linear PDE operator this is exactly the energy natural gradient of Müller &
    Zeinhofer, "Achieving high accuracy with PINNs via energy natural gradient
    descent", ICML 2023: the Gramian of the energy inner product is $J^\top J$. The
    line search evaluates every step length at once (one vectorised loss
    evaluation per candidate) and keeps the best; if none decreases the loss the
    parameters stay put (step length 0, recorded as `"lr"`).

    The Jacobian has one row per residual and one column per parameter, so this is
    for small networks (up to a few thousand parameters and points); for larger
    ones pass `solver=lx.CG(...)`, which never forms $J$. Use float64: the normal
    equations square the condition number.

    **Arguments (all keyword-only):**

    - `damping`: $\lambda \ge 0$, Levenberg–Marquardt damping (and regulariser of the
      singular Gramian of an overparameterised network).
    - `solver`: a lineax solver. `lx.Cholesky()` (default) solves the dense normal
      equations on the smaller of the parameter and residual sides; `lx.QR()` or
      `lx.SVD()` solve the stacked least-squares system $[J; \sqrt\lambda I]$
      instead (more accurate, slower); `lx.CG(rtol=..., atol=..., max_steps=...)` is
      matrix-free, with one JVP and one VJP per iteration.
    - `step_sizes`: the line-search grid, default $2^{-k}$, $k = 0..29$.
    - `jacobian`: how to form $J$ for the dense solvers. `"per_point"` (default):
      one reverse-mode gradient per point, vectorised
      (`pinnlib.losses.residual_jacobian`; about three residual evaluations in all;
      needs pointwise misfits, as all `pinnlib.losses` builders are). `"forward"`
      (`jax.jacfwd` of the whole residual vector: one residual evaluation per
      parameter) or `"reverse"` (`jax.jacrev`: one per residual) for misfits that
      couple points.

    **Returns:** a `GaussNewton` optax transformation. Use it with
    `pinnlib.init_state` and `pinnlib.make_step` like any optimizer (every loss term
    must be a least-squares term, as all `pinnlib.losses` builders are); in a phased
    run, after Adam, with `pinnlib.switch_optimizer`.

    !!! example

        ```python
        opt = pl.optim.gauss_newton(damping=1e-10)
        state = pl.init_state(u, opt, loss, key=jax.random.key(0))
        result = pl.fit(pl.make_step(loss, opt), state, batch, 500)
        ```
    """
    sizes = _check(damping, step_sizes, jacobian, solver)

    def init(params) -> GaussNewtonState:
        flat, _ = ravel_pytree(params)
        return GaussNewtonState(
            learning_rate=jnp.zeros((), flat.dtype),
            damping=jnp.asarray(damping, flat.dtype),
        )

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
            "pinnlib.optim.gauss_newton",
            params,
            value,
            value_fn,
            residual_fn,
            jacobian_fn,
            jacobian,
        )
        d = direction(p.residual, p.jacobian, p.flat, state.damping, solver)
        etas = jnp.asarray(sizes, p.flat.dtype)
        trials = jax.vmap(lambda eta: p.loss(p.flat - eta * d))(etas)
        trials = jnp.where(jnp.isfinite(trials), trials, jnp.inf)
        best = jnp.argmin(trials)
        zero = jnp.zeros((), p.flat.dtype)
        eta = jnp.where(trials[best] < p.value, etas[best], zero)
        return p.unravel(-eta * d), state._replace(learning_rate=eta)

    return GaussNewton(init, update)
