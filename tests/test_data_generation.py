"""Random fields and the Burgers / Darcy solvers of `pinnlib.data`.

Fields: sample covariances against the analytic sums over modes, zero mean mode,
zero normal derivative. Burgers: an exact Cole–Hopf solution, convergence in the grid
and in the tolerance, conservation of the mean. Darcy: second-order convergence to a
manufactured solution, agreement with a dense direct solve of the same scheme,
positivity and symmetry. Small sizes throughout, float64 unless a test says otherwise.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnlib as pl

F64 = jnp.float64


def _relative(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.linalg.norm(a - b, axis=-1) / np.linalg.norm(b, axis=-1)))


# ----------------------------------------------------------------- random fields


@pytest.mark.parametrize("size", [15, 16])
def test_periodic_grf_covariance_and_zero_mean(size):
    variance, shift, power = 625.0, 25.0, 2.0
    u = np.asarray(pl.data.periodic_grf(jax.random.key(0), 8000, size, dtype=F64))
    assert u.shape == (8000, size)
    np.testing.assert_allclose(u.mean(axis=1), 0.0, atol=1e-12)  # no constant mode
    k = np.arange(1, size // 2 + 1)
    lam = variance * ((2 * np.pi * k) ** 2 + shift) ** (-power)
    lags = np.arange(size) / size
    exact = (2 * lam[None, :] * np.cos(2 * np.pi * np.outer(lags, k))).sum(axis=1)
    # Stationary: average the empirical covariance over pairs at the same lag.
    empirical = np.array([np.mean(u * np.roll(u, -r, axis=1)) for r in range(size)])
    np.testing.assert_allclose(empirical, exact, atol=0.03 * exact[0])


def _neumann_variance(sizes, variance=1.0, shift=9.0, power=2.0):
    """Analytic pointwise variance sum_k lambda_k phi_k(x)^2 on the node grid."""
    out = np.zeros(sizes)
    for k in np.ndindex(*sizes):
        lam = variance * (np.pi**2 * np.sum(np.square(k)) + shift) ** (-power)
        phi = np.ones(())
        for kd, n in zip(k, sizes):
            x = np.arange(n) / (n - 1)
            phi = np.multiply.outer(
                phi, (np.sqrt(2) if kd else 1.0) * np.cos(np.pi * kd * x)
            )
        out += lam * phi**2
    return out


@pytest.mark.parametrize("size", [9, (6, 7)])
def test_neumann_grf_variance(size):
    sizes = (size,) if isinstance(size, int) else size
    u = np.asarray(pl.data.neumann_grf(jax.random.key(1), 20000, size, dtype=F64))
    assert u.shape == (20000, *sizes)
    np.testing.assert_allclose(u.var(axis=0), _neumann_variance(sizes), rtol=0.06)


def test_neumann_grf_cross_covariance():
    """C(x, y) = sum_k lambda_k phi_k(x) phi_k(y) in 1-d, at all pairs of nodes."""
    n = 7
    u = np.asarray(pl.data.neumann_grf(jax.random.key(2), 40000, n, dtype=F64))
    x = np.arange(n) / (n - 1)
    k = np.arange(n)
    lam = (np.pi**2 * k**2 + 9.0) ** -2.0
    phi = np.where(k == 0, 1.0, np.sqrt(2)) * np.cos(np.pi * np.outer(x, k))
    exact = (phi * lam) @ phi.T
    np.testing.assert_allclose(u.T @ u / len(u), exact, atol=0.03 * exact.max())


def test_neumann_grf_zero_normal_derivative():
    """A smooth field's one-sided slope at x = 0 and x = 1 is ~0 (h^2), unlike inside."""
    n = 129
    u = np.asarray(
        pl.data.neumann_grf(jax.random.key(3), 64, n, shift=1.0, power=4.0, dtype=F64)
    )
    h = 1.0 / (n - 1)
    slope_left = (-3 * u[:, 0] + 4 * u[:, 1] - u[:, 2]) / (2 * h)
    slope_right = (3 * u[:, -1] - 4 * u[:, -2] + u[:, -3]) / (2 * h)
    interior = np.sqrt(np.mean(np.gradient(u, h, axis=1)[:, 10:-10] ** 2))
    assert np.max(np.abs(slope_left)) < 1e-3 * interior
    assert np.max(np.abs(slope_right)) < 1e-3 * interior


def test_fields_jit_vmap_and_dtype():
    keys = jax.random.split(jax.random.key(4), 3)
    batched = jax.vmap(lambda k: pl.data.periodic_grf(k, 2, 8, dtype=F64))(keys)
    single = jnp.stack([pl.data.periodic_grf(k, 2, 8, dtype=F64) for k in keys])
    np.testing.assert_allclose(batched, single, rtol=1e-12, atol=1e-14)
    jitted = jax.jit(lambda k, s: pl.data.neumann_grf(k, 2, (4, 5), shift=s))
    assert jitted(keys[0], 9.0).shape == (2, 4, 5)
    eager = pl.data.neumann_grf(keys[0], 2, (4, 5))
    np.testing.assert_allclose(jitted(keys[0], 9.0), eager, rtol=1e-12, atol=1e-14)
    assert pl.data.periodic_grf(keys[0], 2, 8, dtype=jnp.float32).dtype == jnp.float32
    assert pl.data.neumann_grf(keys[0], 2, 8, dtype=jnp.float32).dtype == jnp.float32


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda k: pl.data.periodic_grf(k, 4, 1), r"periodic_grf\(size=...\)"),
        (lambda k: pl.data.periodic_grf(k, 0, 8), r"periodic_grf\(num=...\)"),
        (lambda k: pl.data.periodic_grf(k, 4, 8, variance=-1.0), r"variance"),
        (lambda k: pl.data.neumann_grf(k, 4, (8, 1)), r"neumann_grf\(size=...\)"),
        (lambda k: pl.data.neumann_grf(k, 4, 8, shift=0.0), r"shift"),
        (lambda k: pl.data.neumann_grf(k, 4, 8, dtype=jnp.int32), r"dtype"),
    ],
)
def test_field_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call(jax.random.key(0))


# ----------------------------------------------------------------------- Burgers


def _cole_hopf(x, t, nu, eps):
    """u = -2 nu phi_x / phi with phi = 1 + eps exp(-nu (2 pi)^2 t) cos(2 pi x)."""
    decay = eps * np.exp(-nu * (2 * np.pi) ** 2 * t)
    phi = 1 + decay * np.cos(2 * np.pi * x)
    return 4 * np.pi * nu * decay * np.sin(2 * np.pi * x) / phi


def test_burgers_cole_hopf_exact():
    nu, eps, n = 0.05, 0.5, 64
    x = np.arange(n) / n
    ts = jnp.array([0.0, 0.1, 0.5])
    u0 = jnp.asarray(_cole_hopf(x, 0.0, nu, eps))
    u = pl.data.burgers_solve(u0, nu=nu, t1=0.5, ts=ts, rtol=1e-10, atol=1e-12)
    exact = np.stack([_cole_hopf(x, float(t), nu, eps) for t in ts])
    assert u.shape == (3, n)
    np.testing.assert_allclose(u, exact, atol=1e-9 * np.abs(exact).max())
    np.testing.assert_allclose(u[0], u0, rtol=0, atol=1e-15)  # modes above n/3 too
    # float32 with the default tolerances: about 1e-6 relative.
    u32 = pl.data.burgers_solve(u0.astype(jnp.float32), nu=nu, t1=0.5)
    assert u32.dtype == jnp.float32
    assert _relative(u32, exact[-1]) < 1e-5


# Most Burgers tests share one shape, (2, 32) in float64, so they share compilations.
U0 = pl.data.periodic_grf(jax.random.key(5), 2, 32, dtype=F64)


def test_burgers_converges_under_refinement():
    """Under-resolved on 32 points (nu = 0.01): the error falls fast with `refine`."""
    u0 = U0
    solve = lambda r: pl.data.burgers_solve(
        u0, nu=0.01, refine=r, rtol=1e-10, atol=1e-12
    )
    reference = solve(4)
    errors = [_relative(solve(r), reference) for r in (1, 2)]
    assert errors[0] > 1e-4  # 32 points do not resolve the fronts
    assert errors[0] > 30 * errors[1]
    assert errors[1] < 1e-4


def test_burgers_converges_under_tolerance():
    u0 = U0[::-1]
    solve = lambda r: pl.data.burgers_solve(u0, nu=0.02, rtol=r, atol=r * 1e-2)
    reference = solve(1e-11)
    errors = [_relative(solve(r), reference) for r in (1e-4, 1e-6, 1e-8)]
    assert errors[0] > 10 * errors[1] > 100 * errors[2]
    assert errors[1] < 1e-5


def test_burgers_conserves_mean_and_starts_at_u0():
    u0 = U0 + 0.3
    ts = jnp.array([0.0, 0.25, 1.0])
    u = pl.data.burgers_solve(u0, nu=0.02, ts=ts, refine=2)  # padded to 64 points
    assert u.shape == (2, 3, 32)
    np.testing.assert_allclose(u[:, 0], u0, atol=1e-13)  # exactly the initial values
    np.testing.assert_allclose(u.mean(axis=-1), 0.3, atol=1e-13)
    assert float(jnp.abs(u[:, -1] - u[:, 0]).max()) > 0.1  # and it did evolve


def test_burgers_batch_axes_jit_and_vmap():
    u0 = jnp.stack([U0, U0[::-1], 0.5 * U0])  # (3, 2, 32)
    out = pl.data.burgers_solve(u0, nu=0.02, t1=0.5)
    assert out.shape == (3, 2, 32)
    alone = pl.data.burgers_solve(U0[::-1], nu=0.02, t1=0.5)  # samples are independent
    np.testing.assert_allclose(out[1], alone, rtol=0, atol=1e-14)
    per_nu = jax.jit(jax.vmap(lambda nu: pl.data.burgers_solve(U0, nu=nu, t1=0.5)))
    np.testing.assert_allclose(per_nu(jnp.array([0.05, 0.02]))[1], out[0], atol=1e-12)


def test_burgers_pairs():
    key = jax.random.key(9)
    u0, u1 = pl.data.burgers_pairs(key, 3, size=64, dtype=jnp.float32)
    assert u0.shape == u1.shape == (3, 64) and u1.dtype == jnp.float32
    np.testing.assert_array_equal(
        u0, pl.data.periodic_grf(key, 3, 64, dtype=jnp.float32)
    )
    np.testing.assert_array_equal(u1, pl.data.burgers_solve(u0, nu=0.01))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"nu": 0.0}, r"burgers_solve\(nu=...\)"),
        ({"nu": 0.01, "t1": -1.0}, r"burgers_solve\(t1=...\)"),
        ({"nu": 0.01, "ts": jnp.array([0.5, 0.2])}, r"burgers_solve\(ts=...\)"),
        ({"nu": 0.01, "ts": jnp.array([0.0, 2.0])}, r"burgers_solve\(ts=...\)"),
        ({"nu": 0.01, "refine": 0}, r"burgers_solve\(refine=...\)"),
    ],
)
def test_burgers_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pl.data.burgers_solve(jnp.zeros(16), **kwargs)


def test_burgers_u0_must_be_float():
    # pinnlib's ValueError; under pytest the jaxtyping hook may reject it first.
    pattern = r"burgers_solve\(u0=\.\.\.\)|parameter 'u0'"
    with pytest.raises((ValueError, TypeError), match=pattern):
        pl.data.burgers_solve(jnp.zeros(16, jnp.int32), nu=0.01)


# ------------------------------------------------------------------------- Darcy


def _dense_darcy(a, f):
    """The same five-point scheme assembled as a dense matrix and solved by NumPy."""
    n1, n2 = a.shape
    hx, hy = 1.0 / (n1 - 1), 1.0 / (n2 - 1)
    index = -np.ones((n1, n2), int)
    index[1:-1, 1:-1] = np.arange((n1 - 2) * (n2 - 2)).reshape(n1 - 2, n2 - 2)
    matrix = np.zeros(((n1 - 2) * (n2 - 2),) * 2)
    for i in range(1, n1 - 1):
        for j in range(1, n2 - 1):
            row = index[i, j]
            for di, dj, h in ((1, 0, hx), (-1, 0, hx), (0, 1, hy), (0, -1, hy)):
                face = 0.5 * (a[i, j] + a[i + di, j + dj]) / h**2
                matrix[row, row] += face
                if index[i + di, j + dj] >= 0:
                    matrix[row, index[i + di, j + dj]] -= face
    u = np.zeros((n1, n2))
    u[1:-1, 1:-1] = np.linalg.solve(matrix, f[1:-1, 1:-1].ravel()).reshape(n1 - 2, -1)
    return u


def test_darcy_matches_dense_direct_solve():
    """Two samples on a 13 x 11 grid, batch axes (2, 1), one forcing for both."""
    f = np.asarray(pl.data.neumann_grf(jax.random.key(10), 2, (13, 11), dtype=F64))
    a = np.where(f >= 0, 12.0, 3.0)[:, None]
    forcing = 1.0 + np.outer(np.arange(13), np.ones(11)) / 13
    u = pl.data.darcy_solve(jnp.asarray(a), forcing=jnp.asarray(forcing))
    assert u.shape == (2, 1, 13, 11)
    for k in range(2):
        expected = _dense_darcy(a[k, 0], forcing)
        np.testing.assert_allclose(u[k, 0], expected, rtol=1e-9, atol=1e-12)


def _manufactured(n):
    x = np.linspace(0.0, 1.0, n)[:, None] * np.ones((1, n))
    y = np.ones((n, 1)) * np.linspace(0.0, 1.0, n)[None, :]
    a = 1.0 + x + y**2
    u = np.sin(np.pi * x) * np.sin(np.pi * y)
    ux = np.pi * np.cos(np.pi * x) * np.sin(np.pi * y)
    uy = np.pi * np.sin(np.pi * x) * np.cos(np.pi * y)
    f = -(1.0 * ux + 2 * y * uy) + 2 * np.pi**2 * a * u  # -div(a grad u)
    return a, u, f


def test_darcy_second_order_manufactured_solution():
    errors = []
    for n in (17, 33, 65):
        a, exact, f = _manufactured(n)
        u = pl.data.darcy_solve(jnp.asarray(a), forcing=jnp.asarray(f))
        errors.append(float(np.max(np.abs(np.asarray(u) - exact))))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    np.testing.assert_allclose(ratios, 4.0, rtol=0.1)  # second order
    assert errors[-1] < 1e-3


def _residual(a, u, f):
    """Max of |A u - f| over the interior, the five-point scheme written out."""
    h = 1.0 / (a.shape[0] - 1)
    ax = 0.5 * (a[1:, :] + a[:-1, :])
    ay = 0.5 * (a[:, 1:] + a[:, :-1])
    fx = ax * (u[1:, :] - u[:-1, :])
    fy = ay * (u[:, 1:] - u[:, :-1])
    div = (fx[1:, 1:-1] - fx[:-1, 1:-1]) + (fy[1:-1, 1:] - fy[1:-1, :-1])
    return np.max(np.abs(-div / h**2 - f[1:-1, 1:-1]))


@pytest.mark.parametrize(("dtype", "tol"), [(jnp.float64, 1e-7), (jnp.float32, 2e-2)])
def test_darcy_residual_positivity_symmetry(dtype, tol):
    f = pl.data.neumann_grf(jax.random.key(11), 1, (33, 33), dtype=F64)[0]
    a = jnp.where(f + f.T >= 0, 12.0, 3.0).astype(dtype)  # symmetric about x = y
    u = pl.data.darcy_solve(a)
    assert u.dtype == dtype
    u64, a64 = np.asarray(u, np.float64), np.asarray(a, np.float64)
    assert _residual(a64, u64, np.ones((33, 33))) < tol  # |A u - f|, with f = 1
    assert np.all(u64[1:-1, 1:-1] > 0)  # f = 1 > 0: u > 0 inside
    for edge in (u64[0], u64[-1], u64[:, 0], u64[:, -1]):
        np.testing.assert_array_equal(edge, 0.0)
    np.testing.assert_allclose(u64, u64.T, atol=1e-6 * u64.max())


def test_darcy_pairs_batches_jit_and_vmap():
    key = jax.random.key(12)
    a, u = pl.data.darcy_pairs(key, 5, size=17, dtype=F64, batch_size=2)
    assert a.shape == u.shape == (5, 17, 17)
    f = pl.data.neumann_grf(key, 5, (17, 17), dtype=F64)
    np.testing.assert_array_equal(a, jnp.where(f >= 0, 12.0, 3.0))
    vmapped = jax.jit(jax.vmap(lambda c: pl.data.darcy_solve(c)))(a)
    np.testing.assert_allclose(vmapped, u, rtol=0, atol=1e-13)


@pytest.mark.parametrize(
    ("a", "kwargs", "match"),
    [
        (-jnp.ones((8, 8)), {}, r"darcy_solve\(a=...\)"),
        (jnp.ones((8, 2)), {}, r"darcy_solve\(a=...\)"),
        (
            jnp.ones((8, 8)),
            {"forcing": jnp.ones((3, 8))},
            r"darcy_solve\(forcing=...\)",
        ),
        (jnp.ones((8, 8)), {"rtol": 0.0}, r"darcy_solve\(rtol=...\)"),
    ],
)
def test_darcy_errors(a, kwargs, match):
    with pytest.raises(ValueError, match=match):
        pl.data.darcy_solve(a, **kwargs)


def test_darcy_checks_a_traced_coefficient_when_it_runs():
    solve = jax.jit(lambda c: pl.data.darcy_solve(c))
    assert np.all(np.isfinite(solve(jnp.ones((8, 8)))))
    with pytest.raises(Exception, match="the coefficient must be positive"):
        jax.block_until_ready(solve(-jnp.ones((8, 8))))
