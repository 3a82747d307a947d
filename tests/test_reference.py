import math
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from pinnlib.reference import burgers, burgers_grid

NU = 0.01 / math.pi
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "burgers.npz"


def _fd_residual(x, t, h, nu=NU):
    """Central-difference residual u_t + u u_x - nu u_xx and the size of its terms."""
    u = burgers(x, t, nu=nu)
    u_t = (burgers(x, t + h, nu=nu) - burgers(x, t - h, nu=nu)) / (2 * h)
    u_xp, u_xm = burgers(x + h, t, nu=nu), burgers(x - h, t, nu=nu)
    u_x = (u_xp - u_xm) / (2 * h)
    u_xx = (u_xp - 2 * u + u_xm) / h**2
    scale = np.abs(u_t) + np.abs(u * u_x) + np.abs(nu * u_xx)
    return u_t + u * u_x - nu * u_xx, scale


def test_satisfies_pde_in_smooth_region():
    # Smooth region: away from the steep front at x = 0. The central differences have
    # truncation error C h^2 with C ~ 5 here (the solution's third/fourth derivatives
    # are O(10-100)), i.e. ~5e-6 at h = 1e-3, and round-off ~eps/h^2 ~ 1e-10 is
    # negligible. So the residual must be < 1e-5 relative to the largest term (~2) and
    # must shrink like h^2 when h halves: a wrong solution leaves an O(1) residual.
    x = np.concatenate([np.linspace(-0.9, -0.3, 7), np.linspace(0.3, 0.9, 7)])[:, None]
    t = np.linspace(0.2, 0.9, 8)[None, :]
    r1, scale = _fd_residual(x, t, 2e-3)
    r2, _ = _fd_residual(x, t, 1e-3)
    assert scale.max() > 1.0  # the terms are O(1), so the check is meaningful
    assert np.abs(r2).max() < 1e-5 * scale.max()
    assert 3.0 < np.abs(r1).max() / np.abs(r2).max() < 5.0  # second order: ratio ~4


def test_initial_condition():
    x = np.linspace(-1.0, 1.0, 101)
    np.testing.assert_array_equal(burgers(x, 0.0), -np.sin(np.pi * x))
    # The quadrature itself is continuous as t -> 0.
    np.testing.assert_allclose(burgers(x, 1e-8), -np.sin(np.pi * x), atol=1e-6)


def test_boundary_conditions():
    t = np.linspace(0.0, 2.0, 41)
    for x0 in (-1.0, 1.0):
        assert np.abs(burgers(x0, t)).max() < 1e-12


def test_odd_symmetry():
    x = np.linspace(0.0, 1.0, 33)[:, None]
    t = np.linspace(0.0, 1.0, 11)[None, :]
    np.testing.assert_allclose(burgers(-x, t), -burgers(x, t), atol=1e-12)


def test_broadcasting_and_inputs():
    x = np.linspace(-1.0, 1.0, 5)
    t = np.linspace(0.1, 0.5, 3)
    u = burgers(x[:, None], t[None, :])
    assert u.shape == (5, 3) and u.dtype == np.float64
    np.testing.assert_allclose(
        burgers(jnp.asarray(x), 0.3), burgers(x, 0.3), rtol=0, atol=0
    )
    assert burgers(0.5, 0.5).shape == ()


@pytest.mark.skipif(not DATA.exists(), reason=f"reference data {DATA} not available")
def test_matches_standard_reference_data():
    data = np.load(DATA)
    x, t, usol = data["x"], data["t"], data["usol"]
    u = burgers(x, t.T)  # (256, 1) with (1, 100) -> (256, 100), indexed [x, t]
    # Measured max difference: 4.2e-11 (the front at x = 0, t ~ 0.66).
    assert np.abs(u - usol).max() < 1e-8
    points, u_grid = burgers_grid()
    np.testing.assert_allclose(u_grid.reshape(256, 100), usol, rtol=0, atol=1e-8)


def test_converged_in_num_nodes():
    x = np.linspace(-1.0, 1.0, 129)[:, None]
    t = np.linspace(0.0, 1.0, 21)[None, :]
    u_default = burgers(x, t)
    u_more = burgers(x, t, num_nodes=200)
    assert np.abs(u_default - u_more).max() < 1e-10
    # Too few nodes cannot resolve the front: the comparison is sensitive.
    assert np.abs(burgers(x, t, num_nodes=20) - u_more).max() > 1e-2


def test_other_viscosity_satisfies_pde():
    # nu = 0.05: a smooth solution everywhere, so include the center x = 0. Same
    # reasoning as above: O(h^2) truncation, residual shrinking 4x when h halves.
    x = np.linspace(-0.8, 0.8, 9)[:, None]
    t = np.linspace(0.1, 0.5, 5)[None, :]
    r1, scale = _fd_residual(x, t, 2e-3, nu=0.05)
    r2, _ = _fd_residual(x, t, 1e-3, nu=0.05)
    assert scale.max() > 1.0
    assert np.abs(r2).max() < 1e-5 * scale.max()
    assert 3.0 < np.abs(r1).max() / np.abs(r2).max() < 5.0


def test_grid_shapes_ordering_dtype():
    nx, nt, t1 = 7, 5, 0.5
    points, u = burgers_grid(nx=nx, nt=nt, t1=t1)
    assert points.shape == (nx * nt, 2) and u.shape == (nx * nt,)
    assert points.dtype == jnp.zeros(()).dtype and isinstance(u, np.ndarray)
    assert u.dtype == np.float64
    grid = np.asarray(points).reshape(nx, nt, 2)
    np.testing.assert_allclose(grid[:, 0, 0], np.linspace(-1.0, 1.0, nx))
    np.testing.assert_allclose(grid[0, :, 1], np.linspace(0.0, t1, nt))
    np.testing.assert_allclose(grid[:, :, 0], grid[:, :1, 0].repeat(nt, axis=1))
    u_xt = u.reshape(nx, nt)
    np.testing.assert_allclose(u_xt, burgers(grid[:, :, 0], grid[:, :, 1]))
    np.testing.assert_allclose(u_xt[:, 0], -np.sin(np.pi * grid[:, 0, 0]))
    points32, u32 = burgers_grid(nx=nx, nt=nt, t1=t1, dtype=jnp.float32)
    assert points32.dtype == jnp.float32 and u32.dtype == np.float64
    np.testing.assert_array_equal(u32, u)


def test_default_grid_is_standard():
    points, u = burgers_grid()
    assert points.shape == (25600, 2) and u.shape == (25600,)
    t = np.asarray(points[:100, 1])
    np.testing.assert_allclose(t, np.arange(100) * 0.01, atol=1e-14)
    np.testing.assert_allclose(np.asarray(points[::100, 0]), np.linspace(-1, 1, 256))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(t=-0.1), r"burgers\(t=\.\.\.\)"),
        (dict(num_nodes=0), r"burgers\(num_nodes=\.\.\.\)"),
        (dict(num_nodes=10_000), r"burgers\(num_nodes=\.\.\.\)"),
        (dict(nu=0.0), r"burgers\(nu=\.\.\.\)"),
        (dict(x=np.nan), r"burgers\(x=\.\.\.\)"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = dict(x=0.5, t=0.5) | kwargs
    x, t = args.pop("x"), args.pop("t")
    with pytest.raises(ValueError, match=match):
        burgers(x, t, **args)


def test_grid_bad_arguments():
    with pytest.raises(ValueError, match=r"burgers_grid\(nx=\.\.\.\)"):
        burgers_grid(nx=0)
    with pytest.raises(ValueError, match=r"burgers_grid\(dtype=\.\.\.\)"):
        burgers_grid(nx=3, nt=3, dtype=jnp.int32)
