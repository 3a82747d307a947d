import math

import jax.numpy as jnp
import numpy as np
import pytest

from pinnlib.reference import allen_cahn, allen_cahn_grid

D, R = 1e-4, 5.0


@pytest.fixture(scope="module")
def default_solution():
    """The benchmark solution with the defaults (201 x 512 grid, t in [0, 1])."""
    return allen_cahn()


def _residual(t, u, start):
    """Central-difference u_t minus the spectral right-hand side, rows >= ``start``."""
    nx = u.shape[1]
    k = np.pi * np.arange(nx // 2 + 1)
    u_xx = np.fft.irfft(-(k**2) * np.fft.rfft(u, axis=1), nx, axis=1)
    u_t = (u[2:] - u[:-2]) / (t[2:] - t[:-2])[:, None]
    diffusion, reaction = D * u_xx[1:-1], R * (u[1:-1] - u[1:-1] ** 3)
    rows = slice(start - 1, None)
    residual = (u_t - diffusion - reaction)[rows]
    scale = (np.abs(u_t) + np.abs(diffusion) + np.abs(reaction))[rows]
    return residual, scale


def test_shapes_grid_and_initial_row(default_solution):
    t, x, u = default_solution
    assert t.shape == (201,) and x.shape == (512,) and u.shape == (201, 512)
    assert t.dtype == x.dtype == u.dtype == np.float64
    np.testing.assert_array_equal(t, np.linspace(0.0, 1.0, 201))
    np.testing.assert_array_equal(x, -1.0 + 2.0 * np.arange(512) / 512)
    np.testing.assert_array_equal(u[0], x**2 * np.cos(np.pi * x))
    assert np.all(np.isfinite(u))


def test_maximum_principle_symmetry_and_metastable_profile(default_solution):
    _, x, u = default_solution
    # |u0| <= 1, so the Allen-Cahn maximum principle keeps |u| <= 1.
    assert np.abs(u).max() <= 1.0 + 1e-10
    # u0 is even, so u(-x) = u(x); on the periodic grid -x_j is x_{(nx - j) mod nx}.
    mirror = (-np.arange(512)) % 512
    np.testing.assert_allclose(u[:, mirror], u, rtol=0, atol=1e-12)
    # At t = 1 the solution is the known metastable pattern of plateaus at +-1.
    assert u[-1].max() > 0.9 and u[-1].min() < -0.9
    assert np.mean(np.abs(np.abs(u[-1]) - 1.0) < 0.05) > 0.7  # mostly near +-1
    # x = +-1 stays in the -1 phase; plateaus near +1 at x = +-0.31; a dip at x = 0.
    assert u[-1, 0] < -0.999
    assert u[-1, 176] > 0.98 and u[-1, 336] > 0.98
    assert u[-1, 256] < 0.1


def test_pde_residual(default_solution):
    # Central differences in t have error dt^2/6 u_ttt; with dt = 5e-3 that is about
    # 7e-5 of the largest term (measured). Before t = 0.1 the kink of u0 at x = +-1
    # (smoothed only over sqrt(d t)) pollutes the differences, so skip it.
    t, _, u = default_solution
    start = 20  # t = 0.1
    residual, scale = _residual(t, u, start)
    assert scale.max() > 1.0  # the terms are O(1), so the check is meaningful
    assert np.abs(residual).max() < 3e-4 * scale.max()
    # A wrong solution leaves an O(1) residual; this one is the difference error,
    # second order: halving the output interval divides it by about 4.
    t_fine, _, u_fine = allen_cahn(nt=201, t1=0.5)
    fine = _residual(t_fine, u_fine, 2 * start)[0][::2]  # at t = 0.1, ..., 0.495
    coarse = residual[: len(fine)]
    np.testing.assert_allclose(t_fine[2 * start : -1 : 2], t[start : start + len(fine)])
    assert 3.0 < np.abs(coarse).max() / np.abs(fine).max() < 5.0


def test_fourth_order_in_time():
    # 512-point solver grid (well defined semi-discrete system), t in [0, 0.5].
    def final(steps):
        return allen_cahn(nx=128, nt=2, t1=0.5, oversample=4, steps_per_output=steps)[
            2
        ][-1]

    reference = final(800)
    errors = [np.abs(final(s) - reference).max() for s in (25, 50, 100)]
    assert errors[-1] < 1e-8
    for coarse, fine in zip(errors[:-1], errors[1:]):
        assert 12.0 < coarse / fine < 20.0  # ETDRK4: about 2^4 = 16


def test_spectral_convergence_in_space():
    # Short run (t <= 0.05, when the kink at x = +-1 is sharpest) on refined solver grids.
    def run(oversample):
        return allen_cahn(
            nx=256, nt=11, t1=0.05, oversample=oversample, steps_per_output=2
        )[2]

    u = {m: run(m) for m in (4, 8, 16, 32)}
    diffs = [np.abs(u[m] - u[2 * m]).max() for m in (4, 8, 16)]
    assert diffs[-1] < 1e-10
    assert (
        diffs[0] > 100 * diffs[1] and diffs[1] > 100 * diffs[2]
    )  # faster than any power
    # Doubling the output grid with the default solver grid changes nothing.
    half = allen_cahn(nx=128, nt=11, t1=0.05)[2]
    full = allen_cahn(nx=256, nt=11, t1=0.05)[2]
    np.testing.assert_allclose(half, full[:, ::2], rtol=0, atol=1e-10)


def test_steps_hit_output_times_and_degenerate_cases():
    # Default steps give dt <= 1e-3 with the output times hit exactly: same as explicit.
    _, _, u_auto = allen_cahn(nx=64, nt=3, t1=0.01, oversample=8)
    _, _, u_5 = allen_cahn(nx=64, nt=3, t1=0.01, oversample=8, steps_per_output=5)
    np.testing.assert_array_equal(u_auto, u_5)
    t, x, u = allen_cahn(nx=32, nt=1)
    assert t.shape == (1,) and u.shape == (1, 32)
    np.testing.assert_array_equal(u[0], x**2 * np.cos(np.pi * x))
    t, x, u = allen_cahn(nx=32, nt=4, t1=0.0)
    np.testing.assert_array_equal(t, np.zeros(4))
    np.testing.assert_allclose(u, np.broadcast_to(u[0], u.shape), atol=1e-12)


def test_grid_ordering_and_dtype():
    nx, nt = 16, 5
    t, x, u = allen_cahn(nx=nx, nt=nt, t1=0.1)
    points, values = allen_cahn_grid(nx=nx, nt=nt, t1=0.1)
    assert points.shape == (nt * nx, 2) and values.shape == (nt * nx,)
    assert points.dtype == jnp.float64 and values.dtype == np.float64
    grid = np.asarray(points).reshape(nt, nx, 2)
    np.testing.assert_array_equal(grid[..., 0], np.broadcast_to(x, (nt, nx)))
    np.testing.assert_array_equal(grid[..., 1], np.broadcast_to(t[:, None], (nt, nx)))
    np.testing.assert_array_equal(values.reshape(nt, nx), u)
    points32, values32 = allen_cahn_grid(nx=nx, nt=nt, t1=0.1, dtype=jnp.float32)
    assert points32.dtype == jnp.float32 and values32.dtype == np.float64


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"nx": 0}, "nx"),
        ({"nt": -3}, "nt"),
        ({"t1": -1.0}, "t1"),
        ({"t1": math.nan}, "t1"),
        ({"diffusion": 0.0}, "diffusion"),
        ({"diffusion": math.inf}, "diffusion"),
        ({"reaction": math.nan}, "reaction"),
        ({"steps_per_output": 0}, "steps_per_output"),
        ({"oversample": 0}, "oversample"),
    ],
)
@pytest.mark.parametrize("fn", [allen_cahn, allen_cahn_grid])
def test_bad_arguments(fn, kwargs, name):
    with pytest.raises(ValueError, match=rf"{fn.__name__}\({name}=\.\.\.\)"):
        fn(**kwargs)


def test_bad_dtype():
    with pytest.raises(ValueError, match=r"allen_cahn_grid\(dtype=\.\.\.\)"):
        allen_cahn_grid(nx=8, nt=2, dtype=jnp.int32)
