"""The damped Gauss–Newton direction: dense normal equations, least squares, or CG."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import lineax as lx
from jaxtyping import Array, Float

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
