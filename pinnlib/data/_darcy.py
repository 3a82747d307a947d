r"""2-d Darcy flow by finite differences, solved by CG in the Laplacian's sine basis."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
from jaxtyping import Array, ArrayLike, DTypeLike, Float, PRNGKeyArray

from .._errors import bad_argument, check_positive_int, error_unless, is_traced
from ._fields import check_coefficient, map_in_batches, neumann_grf

#: Default relative tolerance per dtype: 14 and 22 CG steps for the benchmark data.
_RTOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-10}


def _sine_basis(n: int, dtype) -> tuple[Array, Array, Array]:
    r"""For one axis of $n$ nodes: the orthonormal sine matrix $S$ on the $n - 2$
    interior nodes, the face differences $G = D S / h$ of its columns (boundary values
    zero) and the eigenvalues $\lambda_k = \frac{4}{h^2}\sin^2\frac{\pi k h}{2}$ of the
    1-d Dirichlet difference Laplacian $D^\top D / h^2$."""
    h = 1.0 / (n - 1)
    j = np.arange(n)
    full = math.sqrt(2.0 * h) * np.sin(np.pi * np.outer(j, j[1:-1]) * h)
    lam = 4.0 / h**2 * np.sin(0.5 * np.pi * j[1:-1] * h) ** 2
    s, g = full[1:-1], (full[1:] - full[:-1]) / h
    return tuple(jnp.asarray(m, dtype) for m in (s, g, lam))  # pyright: ignore


def _solve_one(a, f, basis, rtol, atol, max_steps):
    """One sample: coefficient `a` and forcing `f` of shape `(n1, n2)` to `u`."""
    (s1, g1, lam1), (s2, g2, lam2) = basis
    w = (lam1[:, None] + lam2[None, :]) ** -0.5
    ax = 0.5 * (a[1:, 1:-1] + a[:-1, 1:-1])  # faces (i + 1/2, j): (n1 - 1, n2 - 2)
    ay = 0.5 * (a[1:-1, 1:] + a[1:-1, :-1])  # faces (i, j + 1/2): (n1 - 2, n2 - 1)
    # Scaled so that the spectrum is >= sigma, above lineax's CG breakdown guard.
    sigma = max(1.0, 1e3 * float(jnp.finfo(a.dtype).eps) * w.size)
    scale = sigma / jnp.min(a)

    def operator(z):  # W (G^T diag(a) G) W, in the sine basis, times `scale`
        c = w * z
        flux_x = ax * (g1 @ c @ s2)
        flux_y = ay * (s1 @ c @ g2.T)
        return scale * w * (g1.T @ flux_x @ s2 + s1 @ flux_y @ g2)

    b = w * (s1 @ f[1:-1, 1:-1] @ s2)
    tol = scale * (atol + rtol * jnp.sqrt(jnp.mean(b**2)))
    op = lx.FunctionLinearOperator(
        operator, jax.ShapeDtypeStruct(b.shape, b.dtype), lx.positive_semidefinite_tag
    )
    cg = lx.CG(
        rtol=0.0, atol=tol, norm=lambda r: jnp.sqrt(jnp.mean(r**2)), max_steps=max_steps
    )
    z = lx.linear_solve(op, scale * b, cg).value
    return jnp.pad(s1 @ (w * z) @ s2, 1)


@eqx.filter_jit
def _solve(a, forcing, rtol, atol, max_steps, batch_size):
    n1, n2 = a.shape[-2:]
    basis = (_sine_basis(n1, a.dtype), _sine_basis(n2, a.dtype))
    a = error_unless(
        a,
        jnp.min(a) > 0,
        "pinnlib.data.darcy_solve(a=...): the coefficient must be positive.",
    )
    flat_a = a.reshape(-1, n1, n2)
    flat_f = forcing.reshape(-1, n1, n2)
    out = map_in_batches(
        lambda af: _solve_one(af[0], af[1], basis, rtol, atol, max_steps),
        (flat_a, flat_f),
        batch_size,
    )
    return out.reshape(a.shape)


def _check_a(where: str, a) -> Array:
    shape = getattr(a, "shape", None)
    if (
        shape is None
        or len(shape) < 2
        or min(shape[-2:]) < 3
        or not jnp.issubdtype(a.dtype, jnp.floating)
    ):
        raise bad_argument(
            f"{where}(a=...)",
            "a float array of shape (..., n1, n2) with n1, n2 >= 3",
            shape if shape is not None else type(a).__name__,
            "Pass the coefficient on the node grid, boundary nodes included.",
        )
    if not is_traced(a):
        values = np.asarray(a)
        if values.size and not (np.all(np.isfinite(values)) and values.min() > 0):
            raise bad_argument(
                f"{where}(a=...)",
                "a finite, positive coefficient",
                f"min {values.min()}",
                "Darcy's equation needs a > 0 everywhere (e.g. a = 12 or 3).",
            )
    return jnp.asarray(a)


def _check_forcing(where: str, forcing, a: Array) -> Array:
    f = jnp.asarray(forcing)
    try:
        ok = np.broadcast_shapes(f.shape, a.shape) == a.shape
        ok = ok and jnp.issubdtype(f.dtype, jnp.number)
    except ValueError:
        ok = False
    if not ok:
        raise bad_argument(
            f"{where}(forcing=...)",
            f"a number or an array broadcastable to a's shape {a.shape}",
            f.shape,
            "Pass e.g. forcing=1.0 or an (n1, n2) array on the node grid.",
        )
    return jnp.broadcast_to(f.astype(a.dtype), a.shape)  # one compiled shape


def darcy_solve(
    a: Float[Array, "*batch n1 n2"],
    *,
    forcing: float | Float[ArrayLike, "..."] = 1.0,
    rtol: float | None = None,
    atol: float = 0.0,
    max_steps: int = 1000,
    batch_size: int | None = None,
) -> Float[Array, "*batch n1 n2"]:
    r"""Solve $-\nabla\cdot(a \nabla u) = f$ on $[0, 1]^2$, $u = 0$ on the boundary.

    Five-point finite differences on the node grid $x_i = i/(n_1 - 1)$,
    $y_j = j/(n_2 - 1)$ (boundary nodes included, where $u = 0$), with each face
    coefficient the arithmetic mean of its two nodes' values,
    $a_{i+1/2,j} = \frac12(a_{i,j} + a_{i+1,j})$: at every interior node

    $$\frac{a_{i+\frac12,j}(u_{i,j} - u_{i+1,j}) + a_{i-\frac12,j}(u_{i,j} - u_{i-1,j})}
    {h_x^2} + \frac{a_{i,j+\frac12}(u_{i,j} - u_{i,j+1})
    + a_{i,j-\frac12}(u_{i,j} - u_{i,j-1})}{h_y^2} = f_{i,j}.$$

    The scheme is second-order accurate for smooth $a$ and $u$.

    **Method.** The system $A u = f$ is symmetric positive definite: $A = D^\top
    \mathrm{diag}(a_{\text{faces}}) D$ with $D$ the face differences. It is solved
    matrix-free by conjugate gradients (`lineax.CG` on a
    `lineax.FunctionLinearOperator` tagged positive semidefinite), preconditioned
    symmetrically by the constant-coefficient Laplacian $L = D^\top D$: with
    $u = L^{-1/2} z$, CG solves $L^{-1/2} A L^{-1/2} z = L^{-1/2} f$, whose spectrum
    lies in $[\min a, \max a]$ whatever the grid. $L^{-1/2}$ is diagonal in the
    discrete sine basis, applied by products with the sine matrix per axis, and the
    face differences of the sine modes $D L^{-1/2}$ are tabulated exactly, so no
    difference of nearby values is rounded. For the Darcy benchmark ($a \in \{3, 12\}$)
    CG takes 14 steps in float32 and 22 in float64 (default tolerances) at
    $n = 17$, 64 and 256 alike, and its residual reaches float32 round-off without
    stalling: the error of $u$ is then about 1e-6 relative in float32, 3e-11 in
    float64.

    Measured on 1200 benchmark coefficients at $64 \times 64$ in float32 (two CPU
    cores): this solver took 3.1 s (rtol 1e-6, error 1e-6); CG with Jacobi scaling
    instead took 6.2 s for 164 steps to a relative residual of only 1e-3 (error 2e-5),
    and could go no further in float32, where $A$'s condition number ($\approx 10^4$)
    times the rounding error stalls the residual. A direct solve would factorize a
    $3844 \times 3844$ banded matrix per sample.

    **Arguments:**

    - `a`: the coefficient on the node grid, shape `(..., n1, n2)` with
        $n_1, n_2 \ge 3$, positive; its float dtype is the dtype of the solve.
    - `forcing`: $f$, a number or an array broadcastable to `a`'s shape
        (keyword-only, default 1); only its interior values are used.
    - `rtol`, `atol`: CG stops when the RMS residual of the preconditioned system is
        at most `atol + rtol *` the RMS of its right-hand side $L^{-1/2} f$; with
        `atol = 0` the relative error of $z = L^{1/2} u$ is then at most
        $(\max a / \min a)$ `rtol`. `rtol=None` (default) is 1e-6 in float32 and
        1e-10 in float64; `atol` defaults to 0.
    - `max_steps`: CG step limit (default 1000).
    - `batch_size`: if given, the samples are solved `batch_size` at a time
        (`jax.lax.map`), bounding memory; the results are the same.

    **Returns:** $u$ of shape `(..., n1, n2)`, zero on the boundary nodes.

    **Raises:** `ValueError` at trace time for a coefficient that is not a float array
    of at least $3 \times 3$ nodes or not positive and finite, a forcing that does not
    broadcast, or a bad tolerance or count; at run time, lineax's error if CG does not
    converge within `max_steps`, and an error for a non-positive traced coefficient.

    !!! example

        ```python
        a = jnp.ones((64, 64))
        u = pl.data.darcy_solve(a, forcing=1.0)  # (64, 64), u > 0 inside
        ```
    """
    where = "pinnlib.data.darcy_solve"
    a = _check_a(where, a)
    forcing = _check_forcing(where, forcing, a)
    if rtol is None:
        rtol = _RTOL.get(np.dtype(a.dtype), 1e-6)
    check_coefficient(f"{where}(rtol=...)", rtol)
    check_coefficient(f"{where}(atol=...)", atol, strict=False)
    max_steps = check_positive_int(f"{where}(max_steps=...)", max_steps)
    if batch_size is not None:
        batch_size = check_positive_int(f"{where}(batch_size=...)", batch_size)
        batch_size = (
            None if batch_size * a.shape[-1] * a.shape[-2] >= a.size else batch_size
        )
    rtol_, atol_ = (jnp.asarray(v, a.dtype) for v in (rtol, atol))
    return _solve(a, forcing, rtol_, atol_, max_steps, batch_size)


def darcy_pairs(
    key: PRNGKeyArray,
    num: int,
    *,
    size: int = 64,
    dtype: DTypeLike | None = None,
    batch_size: int | None = 256,
) -> tuple[Float[Array, "num size size"], Float[Array, "num size size"]]:
    r"""Input–output pairs of the Darcy solution operator $a \mapsto u$.

    The benchmark of Li et al., "Fourier neural operator for parametric partial
    differential equations" (ICLR 2021): $-\nabla\cdot(a\nabla u) = 1$ on $[0, 1]^2$,
    $u = 0$ on the boundary, with $a = 12$ where $f \ge 0$ and $a = 3$ where $f < 0$,
    $f \sim \mathcal{N}(0, (-\Delta + 9 I)^{-2})$ in zero-Neumann cosine modes
    ([`pinnlib.data.neumann_grf`][] with its defaults); $a$ and $u$ on the
    $n \times n$ node grid $x_i = i/(n - 1)$, solved by
    [`pinnlib.data.darcy_solve`][].

    **Arguments:**

    - `key`: a PRNG key; the pairs are a pure function of it.
    - `num`: number of pairs (a Python int).
    - `size`: nodes per side $n \ge 3$ (keyword-only, default 64).
    - `dtype`: float dtype (keyword-only); `None` is JAX's default float.
    - `batch_size`: samples solved at once (default 256); `None` solves all at once.

    **Returns:** `(a, u)`, each of shape `(num, size, size)`.

    !!! example

        ```python
        a, u = pl.data.darcy_pairs(jax.random.key(0), 1200)  # (1200, 64, 64) each
        ```
    """
    where = "pinnlib.data.darcy_pairs"
    num = check_positive_int(f"{where}(num=...)", num)
    size = check_positive_int(f"{where}(size=...)", size)
    if size < 3:
        raise bad_argument(
            f"{where}(size=...)", "at least 3 nodes per side", size, "Pass size >= 3."
        )
    f = neumann_grf(key, num, (size, size), dtype=dtype)
    a = jnp.where(f >= 0, 12.0, 3.0).astype(f.dtype)
    return a, darcy_solve(a, forcing=1.0, batch_size=batch_size)
