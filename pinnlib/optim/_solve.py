"""The damped Gauss–Newton direction: dense normal equations, least squares, or CG."""

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import lineax as lx
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float

from .._errors import bad_argument

Residual = Callable[[Float[Array, " P"]], Float[Array, " N"]]
Jacobian = Callable[
    [Float[Array, " P"]], tuple[Float[Array, " N"], Float[Array, "N P"]]
]


def _psd(matrix: Array) -> lx.MatrixLinearOperator:
    return lx.MatrixLinearOperator(matrix, lx.positive_semidefinite_tag)


def direction(
    residual: Residual,
    jacobian: Jacobian,
    flat: Float[Array, " P"],
    damping: Float[Array, ""],
    solver: lx.AbstractLinearSolver,
) -> Float[Array, " P"]:
    r"""$d = (J^\top J + \lambda I)^{-1} J^\top r$ at `flat`, so that $\theta - d$ is the step.

    - `lx.QR`/`lx.SVD`: the least-squares problem $\min_d \|[J; \sqrt\lambda I] d -
      [r; 0]\|$ (no squared condition number).
    - `lx.CG`: matrix-free normal equations, $v \mapsto J^\top(Jv) + \lambda v$ with
      one JVP and one VJP per iteration (no Jacobian is formed).
    - any other solver (`lx.Cholesky()`, `lx.LU()`, ...): the dense normal equations on
      the smaller side, $(J^\top J + \lambda I) d = J^\top r$ when $N \ge P$, else
      $d = J^\top (J J^\top + \lambda I)^{-1} r$ (the same vector).
    """
    if isinstance(solver, lx.CG):
        r, jvp = jax.linearize(residual, flat)
        return solve_matrix_free(r, jvp, flat, damping, solver)
    r, J = jacobian(flat)
    n, p = J.shape
    if isinstance(solver, lx.QR | lx.SVD):
        stacked = jnp.concatenate([J, jnp.sqrt(damping) * jnp.eye(p, dtype=J.dtype)])
        rhs = jnp.concatenate([r, jnp.zeros(p, r.dtype)])
        operator = lx.MatrixLinearOperator(stacked)
        return lx.linear_solve(operator, rhs, solver, throw=False).value
    if n >= p:
        gram = J.T @ J + damping * jnp.eye(p, dtype=J.dtype)
        return lx.linear_solve(_psd(gram), J.T @ r, solver, throw=False).value
    kernel = J @ J.T + damping * jnp.eye(n, dtype=J.dtype)
    return J.T @ lx.linear_solve(_psd(kernel), r, solver, throw=False).value


def solve_matrix_free(
    r: Float[Array, " N"],
    jvp: Callable[[Float[Array, " P"]], Float[Array, " N"]],
    flat: Float[Array, " P"],
    damping: Float[Array, ""],
    solver: lx.AbstractLinearSolver,
) -> Float[Array, " P"]:
    r"""$d = (J^\top J + \lambda I)^{-1} J^\top r$ from $v \mapsto Jv$ alone, never forming $J$.

    `r` and `jvp` are what `jax.linearize(residual, flat)` returns; $J^\top$ is its
    transpose (`jax.linear_transpose`), so every application of the operator
    $v \mapsto J^\top(Jv) + \lambda v$ costs one JVP and one VJP. `solver` is a
    lineax solver for positive semi-definite operators (`lx.CG`).
    """
    vjp = jax.linear_transpose(jvp, flat)

    def normal(v):
        return vjp(jvp(v))[0] + damping * v

    operator = lx.FunctionLinearOperator(
        normal,
        jax.ShapeDtypeStruct(flat.shape, flat.dtype),
        lx.positive_semidefinite_tag,
    )
    return lx.linear_solve(operator, vjp(r)[0], solver, throw=False).value


def check_solver_and_jacobian(where: str, solver, jacobian: str) -> None:
    """Raise unless `solver` is a lineax solver and `jacobian` a known way to form J.

    `where` is the optimizer's name, e.g. `"pinnlib.optim.gauss_newton"`.
    """
    if not isinstance(solver, lx.AbstractLinearSolver):
        raise bad_argument(
            f"{where}(solver=...)",
            "a lineax solver",
            type(solver).__name__,
            "Pass lx.Cholesky(), lx.QR() or lx.CG(rtol=1e-10, atol=1e-10).",
        )
    if jacobian not in ("per_point", "forward", "reverse"):
        raise bad_argument(
            f"{where}(jacobian=...)",
            "'per_point', 'forward' or 'reverse'",
            jacobian,
            "Use 'per_point' unless a misfit couples several points.",
        )


class FlatProblem(NamedTuple):
    """A least-squares step's inputs on flat parameters (see `flat_problem`)."""

    flat: Float[Array, " P"]
    unravel: Callable
    value: Float[Array, ""]
    loss: Callable[[Float[Array, " P"]], Float[Array, ""]]
    residual: Residual
    jacobian: Jacobian


def flat_problem(
    where: str, params, value, value_fn, residual_fn, jacobian_fn, jacobian: str
) -> FlatProblem:
    """The least-squares problem a training step passes, on flat parameters.

    Checks that the step passed everything a least-squares optimizer needs (the
    keyword arguments of the least-squares protocol) and returns the flat
    parameters, the map back to the pytree, the loss value, and the loss, the
    residual vector and `(r, J)` as functions of flat parameters. `jacobian` says
    how J is formed: `"per_point"` from `jacobian_fn`, `"forward"` or `"reverse"` by
    `jax.jacfwd` / `jax.jacrev` of the residual.
    """
    if (
        params is None
        or value is None
        or value_fn is None
        or residual_fn is None
        or jacobian_fn is None
    ):
        raise TypeError(
            f"{where}(...).update: needs `params` and the keyword arguments "
            "value, value_fn, residual_fn and jacobian_fn, which the step of "
            "pl.training(loss, optimizer) passes (also when the optimizer is "
            "inside optax.chain or a wrapper)."
        )
    flat, unravel = ravel_pytree(params)

    def loss(f):
        return value_fn(unravel(f))

    def residual(f):
        return residual_fn(unravel(f))

    def full_jacobian(f):
        if jacobian == "per_point":
            return jacobian_fn(unravel(f))
        jac = jax.jacfwd if jacobian == "forward" else jax.jacrev
        return residual(f), jac(residual)(f)

    return FlatProblem(flat, unravel, value, loss, residual, full_jacobian)
