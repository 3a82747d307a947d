r"""Periodic viscous Burgers solver (pseudo-spectral method of lines) and its pairs."""

import diffrax
import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, DTypeLike, Float, PRNGKeyArray

from .._errors import bad_argument, check_positive_int, is_traced
from ._fields import check_coefficient, map_in_batches, periodic_grf

#: Default tolerances, measured (see `burgers_solve`): relative error at t = 1 for the
#: benchmark data 8e-7 in float64 and 2e-6 (round-off) in float32.
_RTOL, _ATOL = 1e-6, 1e-8


def _padded_spectrum(u0: Array, grid: int) -> Array:
    r"""Fourier amplitudes $\hat u_m$ ($u = \sum_m \hat u_m e^{2\pi i m x}$, $m \ge 0$)
    of the trigonometric interpolant of `u0`, on a grid of `grid` points."""
    n = u0.shape[-1]
    c = jnp.fft.rfft(u0) / n
    if grid > n and n % 2 == 0:  # the Nyquist cosine splits between m = ±n/2
        c = c.at[n // 2].multiply(0.5)
    return jnp.pad(c, (0, grid // 2 + 1 - c.shape[-1]))


def _solve_one(u0, nu, t1, ts, refine, solver, rtol, atol, max_steps):
    """One sample: `u0` of shape `(n,)` to `(len(ts), n)` (or `(1, n)` at `t1`)."""
    n = u0.shape[-1]
    grid = refine * n
    kept = (grid - 1) // 3 + 1  # 2/3 rule: modes 0 <= m < grid/3 interact
    c0 = _padded_spectrum(u0, grid)
    k = jnp.asarray(2.0 * np.pi * np.arange(grid // 2 + 1), u0.dtype)
    k_kept = k[:kept]

    def field(t, y, nu):
        c = y[0] + 1j * y[1]
        u = jnp.fft.irfft(c, grid) * grid
        w = jnp.fft.rfft(0.5 * u * u)[:kept] / grid
        dc = -1j * k_kept * w - nu * k_kept**2 * c
        return jnp.stack([dc.real, dc.imag])

    y0 = jnp.stack([c0[:kept].real, c0[:kept].imag])
    saveat = diffrax.SaveAt(t1=True) if ts is None else diffrax.SaveAt(ts=ts)
    controller = diffrax.PIDController(rtol=rtol, atol=atol, pcoeff=0.4, icoeff=0.3)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(field),
        solver,
        jnp.zeros_like(t1),
        t1,
        None,
        y0,
        args=nu,
        saveat=saveat,
        stepsize_controller=controller,
        max_steps=max_steps,
    )
    ys = sol.ys
    assert ys is not None
    times = t1[None] if ts is None else ts
    # Modes above the 2/3 cut never meet the nonlinear term: they only diffuse.
    high = c0[None, kept:] * jnp.exp(-nu * k[None, kept:] ** 2 * times[:, None])
    c = jnp.concatenate([ys[:, 0] + 1j * ys[:, 1], high], axis=-1)
    return (jnp.fft.irfft(c, grid, axis=-1) * grid)[:, ::refine]


@eqx.filter_jit
def _solve(u0, nu, rtol, atol, t1, ts, refine, solver, max_steps, batch_size):
    *batch, n = u0.shape
    flat = u0.reshape(-1, n)
    out = map_in_batches(
        lambda u: _solve_one(u, nu, t1, ts, refine, solver, rtol, atol, max_steps),
        flat,
        batch_size,
    )
    return out.reshape(*batch, -1, n) if ts is not None else out.reshape(*batch, n)


def _check_u0(where: str, u0) -> Array:
    shape = getattr(u0, "shape", None)
    if shape is None or len(shape) == 0 or not jnp.issubdtype(u0.dtype, jnp.floating):
        raise bad_argument(
            f"{where}(u0=...)",
            "a float array of shape (..., n): initial values on x_j = j/n",
            shape if shape is not None else type(u0).__name__,
            "Pass e.g. pl.data.periodic_grf(key, num, n).",
        )
    return jnp.asarray(u0)


def _check_times(where: str, t1, ts, dtype):
    check_coefficient(f"{where}(t1=...)", t1, strict=False)
    t1 = jnp.asarray(t1, dtype)
    if ts is None:
        return t1, None
    ts_arr = jnp.asarray(ts, dtype)
    bad = ts_arr.ndim != 1 or ts_arr.shape[0] == 0
    if not bad and not is_traced(ts_arr):
        values = np.asarray(ts_arr, np.float64)
        hi = np.inf if is_traced(t1) else float(t1)
        bad = not (
            np.all(np.isfinite(values))
            and np.all(np.diff(values) >= 0)
            and values[0] >= 0
            and values[-1] <= hi
        )
    if bad:
        raise bad_argument(
            f"{where}(ts=...)",
            "a non-empty 1-d array of non-decreasing times in [0, t1]",
            ts if np.size(ts) < 8 else f"array of shape {np.shape(ts)}",
            "Pass e.g. ts=jnp.linspace(0, t1, 11); the solve runs from 0 to t1.",
        )
    return t1, ts_arr


def burgers_solve(
    u0: Float[Array, "*batch n"],
    *,
    nu: float | Float[Array, ""],
    t1: float | Float[Array, ""] = 1.0,
    ts: Float[ArrayLike, " nt"] | None = None,
    refine: int = 1,
    solver: diffrax.AbstractSolver = diffrax.Bosh3(),
    rtol: float = _RTOL,
    atol: float = _ATOL,
    max_steps: int = 65536,
    batch_size: int | None = None,
) -> Float[Array, "*batch n"] | Float[Array, "*batch nt n"]:
    r"""Solve the periodic viscous Burgers equation on $[0, 1)$ from grid values.

    $$u_t + \big(\tfrac12 u^2\big)_x = \nu\, u_{xx}, \qquad x \in [0, 1)
    \text{ periodic}, \quad u(x, 0) = u_0(x),$$

    with $u_0$ given on $x_j = j/n$, $j = 0, \ldots, n - 1$, and the solution returned
    on the same points.

    **Method.** Fourier pseudo-spectral method of lines: $u = \sum_m \hat u_m
    e^{2\pi i m x}$ on $N$ = `refine` $\cdot\, n$ points (the trigonometric interpolant
    of $u_0$ zero-padded to $N$ points, the Nyquist cosine of an even $n$ split between
    $m = \pm n/2$), derivatives exact in Fourier space, $\partial_x \to 2\pi i m$:

    $$\frac{d\hat u_m}{dt} = -2\pi i m\, \widehat{\big(\tfrac12 u^2\big)}_m
    - \nu (2\pi m)^2 \hat u_m, \qquad 0 \le m < N/3.$$

    The product $u^2$ is formed on the $N$ points from the modes $m < N/3$ only
    (Orszag's 2/3 rule), so the aliases of the quadratic term fall outside the modes
    kept and the semi-discretization conserves $\int u\,dx$ (mode 0) exactly. The modes
    $N/3 \le m \le N/2$ never meet the nonlinear term; they decay exactly as
    $e^{-\nu (2\pi m)^2 t}$, so that with `ts` containing 0 the first output is $u_0$
    itself. The ODE in the kept modes is integrated by diffrax with the adaptive
    explicit solver `solver` (default `diffrax.Bosh3()`) and a PID step-size
    controller, per sample (`jax.vmap`), so a sample's result does not depend on the
    batch it is solved in.

    **Why explicit.** The diffusion term is stiff, with eigenvalues down to
    $-\nu (2\pi N/3)^2$ ($\approx -2.9 \times 10^3$ for $n = 256$, $\nu = 0.01$): an
    explicit method's steps are bounded by stability, about 1200 steps of Bosh3 up to
    $t = 1$. Measured on 64 samples of the benchmark data (float32, two CPU cores),
    Bosh3 took 0.43 s (1190 steps of 3 stages), Tsit5 0.68 s (860 steps of 6),
    Dopri5 0.74 s and Heun 1.16 s (7200 steps). The implicit solvers need the Jacobian
    of the whole right-hand side, dense in Fourier space since advection couples all
    modes: an LU factorization per sample and step. The IMEX solvers (`KenCarp3/4/5`)
    would treat only the diagonal diffusion implicitly, but with diffrax 0.7.2 their
    nonlinear solves diverged even on a linear diagonal test problem.

    **Accuracy.** For the data of [`pinnlib.data.burgers_pairs`][] ($n = 256$,
    $\nu = 0.01$, $t = 1$) the fronts are resolved on the $n$ points: over 8 samples
    the relative $L^2$ difference at $t = 1$ between `refine=1` and `refine=4` was at
    most 4.3e-10 and between 2 and 4 at most 2.4e-10 (float64, rtol 1e-10: the level
    of the time integration error), hence the default `refine=1`. The time integration
    error follows `rtol` (atol = rtol / 100): 7.1e-5, 7.6e-6 and 7.8e-7 at rtol 1e-4,
    1e-5 and 1e-6 in float64; in float32 the defaults give 1.9e-6, the round-off floor.
    Smaller $\nu$ gives steeper fronts: check convergence in `refine`. Solving 1200
    such samples in float32 takes about 8 s on two CPU cores, compilation included.

    **Arguments:**

    - `u0`: initial values, shape `(..., n)` with $n \ge 3$ (the leading axes are
        independent samples); its float dtype is the dtype of the solve.
    - `nu`: the viscosity $\nu > 0$ (keyword-only; a float or a scalar array).
    - `t1`: final time $\ge 0$ (keyword-only, default 1).
    - `ts`: optional 1-d array of non-decreasing output times in $[0, t_1]$.
    - `refine`: the solver grid has `refine * n` points (a positive int, default 1).
    - `solver`: a diffrax solver for the Fourier modes (default `diffrax.Bosh3()`).
    - `rtol`, `atol`: tolerances of the PID controller, on the real and imaginary parts
        of the amplitudes $\hat u_m$ (defaults 1e-6 and 1e-8).
    - `max_steps`: step limit of the solve (default 65536).
    - `batch_size`: if given, the samples are solved `batch_size` at a time
        (`jax.lax.map`), bounding memory; the results are the same.

    **Returns:** $u(\cdot, t_1)$ of shape `(..., n)`, or, with `ts`, the solution at
    those times, shape `(..., len(ts), n)`.

    **Raises:** `ValueError` (at trace time) for a `u0` that is not a float array with
    at least 3 points, a non-positive `nu`, a negative `t1`, `ts` out of $[0, t_1]$ or
    decreasing, or a bad count; at run time, diffrax's error if a solve fails (for
    example, more than `max_steps` steps).

    !!! example

        ```python
        u0 = pl.data.periodic_grf(jax.random.key(0), 4, 256)
        u1 = pl.data.burgers_solve(u0, nu=0.01)  # (4, 256), at t = 1
        ```
    """
    where = "pinnlib.data.burgers_solve"
    u0 = _check_u0(where, u0)
    refine = check_positive_int(f"{where}(refine=...)", refine)
    if u0.shape[-1] * refine < 3:
        raise bad_argument(
            f"{where}(u0=...)",
            "at least 3 points on the solver grid",
            u0.shape,
            "Pass more grid points (or a larger refine).",
        )
    check_coefficient(f"{where}(nu=...)", nu)
    check_coefficient(f"{where}(rtol=...)", rtol)
    check_coefficient(f"{where}(atol=...)", atol)
    max_steps = check_positive_int(f"{where}(max_steps=...)", max_steps)
    if batch_size is not None:
        batch_size = check_positive_int(f"{where}(batch_size=...)", batch_size)
        batch_size = None if batch_size >= u0.size // u0.shape[-1] else batch_size
    t1, ts = _check_times(where, t1, ts, u0.dtype)
    nu_, rtol_, atol_ = (jnp.asarray(v, u0.dtype) for v in (nu, rtol, atol))
    return _solve(u0, nu_, rtol_, atol_, t1, ts, refine, solver, max_steps, batch_size)


def burgers_pairs(
    key: PRNGKeyArray,
    num: int,
    *,
    size: int = 256,
    nu: float | Float[Array, ""] = 0.01,
    t1: float | Float[Array, ""] = 1.0,
    dtype: DTypeLike | None = None,
    batch_size: int | None = 128,
) -> tuple[Float[Array, "num size"], Float[Array, "num size"]]:
    r"""Input–output pairs of the Burgers solution operator $u_0 \mapsto u(\cdot, t_1)$.

    The benchmark of Li et al., "Fourier neural operator for parametric partial
    differential equations" (ICLR 2021): $u_t + (u^2/2)_x = \nu u_{xx}$ on $[0, 1)$
    periodic with $\nu = 0.01$; $u_0 \sim \mathcal{N}(0, 625(-\Delta + 25 I)^{-2})$
    with zero mean mode ([`pinnlib.data.periodic_grf`][] with its defaults); the target
    is $u(\cdot, t_1 = 1)$. Inputs and outputs on $x_j = j/n$, $j = 0, \ldots, n - 1$,
    $n = 256$, solved by [`pinnlib.data.burgers_solve`][] on those points (converged
    in the grid to about 1e-10, and to about 1e-6 in time; see there).

    **Arguments:**

    - `key`: a PRNG key; the pairs are a pure function of it.
    - `num`: number of pairs (a Python int).
    - `size`: grid points $n$ (keyword-only, default 256).
    - `nu`, `t1`: viscosity and final time (keyword-only, defaults 0.01 and 1).
    - `dtype`: float dtype (keyword-only); `None` is JAX's default float.
    - `batch_size`: samples solved at once (default 128); `None` solves all at once.

    **Returns:** `(u0, u1)`, each of shape `(num, size)`.

    !!! example

        ```python
        u0, u1 = pl.data.burgers_pairs(jax.random.key(0), 1200)  # (1200, 256) each
        ```
    """
    where = "pinnlib.data.burgers_pairs"
    num = check_positive_int(f"{where}(num=...)", num)
    size = check_positive_int(f"{where}(size=...)", size)
    u0 = periodic_grf(key, num, size, dtype=dtype)
    return u0, burgers_solve(u0, nu=nu, t1=t1, batch_size=batch_size)
