"""Shared test helpers: finite differences, closed-form fields, exact PDE solutions."""

import dataclasses
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import pinnlib.nn as nn
import pinnlib.pdes as pdes


def central_diff(f, x, *axes: int, h: float = 1e-4):
    """Central finite difference of ``f`` at ``x`` along ``axes`` (order 1 or 2).

    Order 1: $(f(x + h e_i) - f(x - h e_i)) / 2h$, error $O(h^2)$ truncation plus
    $O(\\epsilon / h)$ rounding. Order 2: the 3-point (i == j) or 4-point (i != j)
    stencil, error $O(h^2)$ truncation plus $O(\\epsilon / h^2)$ rounding.
    """
    x = jnp.asarray(x)
    e = jnp.eye(x.shape[0], dtype=x.dtype) * h
    if len(axes) == 1:
        (i,) = axes
        return (f(x + e[i]) - f(x - e[i])) / (2 * h)
    if len(axes) == 2:
        i, j = axes
        if i == j:
            return (f(x + e[i]) - 2 * f(x) + f(x - e[i])) / h**2
        return (
            f(x + e[i] + e[j])
            - f(x + e[i] - e[j])
            - f(x - e[i] + e[j])
            + f(x - e[i] - e[j])
        ) / (4 * h**2)
    raise ValueError(f"central_diff supports orders 1 and 2, got {axes}")


# Test inputs come from numpy's RNG: jax.random would compile threefry kernels for
# every new shape, which on a small CPU costs more than the tests themselves.


def random_points(seed: int, n: int, lower, upper, dtype=jnp.float64):
    """``n`` uniform points in the box ``[lower, upper]``, shape ``(n, d)``."""
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    u = np.random.default_rng(seed).uniform(size=(n, lower.shape[0]))
    return jnp.asarray(lower + (upper - lower) * u, dtype)


def fill_random(shapes, seed: int):
    """Replace the ``jax.ShapeDtypeStruct`` leaves of ``shapes`` with numpy draws.

    Matrices get Glorot-normal entries, other arrays uniform(-0.4, 0.4) (so MLP
    biases are non-zero and no derivative vanishes by symmetry).
    """
    rng = np.random.default_rng(seed)

    def fill(leaf):
        if not isinstance(leaf, jax.ShapeDtypeStruct):
            return leaf
        if leaf.ndim == 2:
            std = np.sqrt(2.0 / sum(leaf.shape))
            return jnp.asarray(rng.normal(0.0, std, leaf.shape), leaf.dtype)
        return jnp.asarray(rng.uniform(-0.4, 0.4, leaf.shape), leaf.dtype)

    return jax.tree.map(fill, shapes)


def random_mlp(
    seed: int,
    in_size: int,
    out_size="scalar",
    *,
    activation="tanh",
    width=12,
    depth=2,
    dtype=None,
):
    """A field with the structure ``pinnlib.nn.mlp`` builds and numpy-drawn weights.

    The structure comes from ``eqx.filter_eval_shape`` (nothing is compiled).
    """
    shapes = eqx.filter_eval_shape(
        lambda: nn.mlp(
            in_size,
            out_size,
            width=width,
            depth=depth,
            activation=activation,
            key=jax.random.key(0),
            dtype=dtype,
        )
    )
    return fill_random(shapes, seed)


def random_fourier(seed: int, in_size: int, num_features: int):
    """``pinnlib.nn.FourierFeatures`` with numpy-drawn N(0, 1) frequencies."""
    shapes = eqx.filter_eval_shape(
        lambda: nn.FourierFeatures(in_size, num_features, key=jax.random.key(0))
    )
    freqs = np.random.default_rng(seed).normal(size=shapes.frequencies.shape)
    return eqx.tree_at(lambda m: m.frequencies, shapes, jnp.asarray(freqs))


def assert_close(actual, expected, *, rtol: float, atol: float, err_msg: str = ""):
    np.testing.assert_allclose(
        np.asarray(actual), np.asarray(expected), rtol=rtol, atol=atol, err_msg=err_msg
    )


# --------------------------------------------------------------------------------------
# Exact (or manufactured) solutions of pinnlib.pdes residuals.
#
# Each entry: the field u(x) on one point, a function building the residual from a
# field and the coefficients, the correct coefficients, a deliberately wrong set of
# coefficients (the residual of u must then be clearly non-zero), and a sampling box.
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Solution:
    name: str
    field: Callable
    residual: Callable  # (u, **coefficients) -> point function
    coefficients: dict
    wrong: dict
    lower: tuple
    upper: tuple


def _burgers_wave(nu=0.1, a=0.5, c=0.3):
    # u = c - a tanh(a (x - c t) / (2 nu)) solves u_t + u u_x = nu u_xx exactly:
    # with w = u - c, s = a xi / (2 nu): w w' = nu w'' = a^3/(2 nu) tanh(s) sech^2(s).
    return lambda p: c - a * jnp.tanh(a * (p[0] - c * p[1]) / (2 * nu))


def _heat_2d(kappa):
    return lambda p: (
        jnp.exp(-2 * kappa * jnp.pi**2 * p[2])
        * jnp.sin(jnp.pi * p[0])
        * jnp.sin(jnp.pi * p[1])
    )


def _helmholtz_2d_source(k):
    # u = sin(pi x) sin(2 pi y): Delta u = -5 pi^2 u, so f = (k^2 - 5 pi^2) u.
    return lambda p: (k**2 - 5 * jnp.pi**2) * _helmholtz_2d_field(p)


def _helmholtz_2d_field(p):
    return jnp.sin(jnp.pi * p[0]) * jnp.sin(2 * jnp.pi * p[1])


def _poisson_source(dim):
    return lambda p: dim * jnp.pi**2 * jnp.prod(jnp.sin(jnp.pi * p))


_AC_EPS, _AC_K = 0.01, 2.0
_KAPPA, _SPEED, _K = 0.3, 1.5, 3.0
_C2 = (0.7, -0.4)

SOLUTIONS: tuple[Solution, ...] = (
    Solution(
        "burgers_travelling_wave",
        _burgers_wave(),
        lambda u, **c: pdes.burgers(u, **c),
        {"nu": 0.1},
        {"nu": 0.05},
        (-1.0, 0.0),
        (1.0, 1.0),
    ),
    Solution(
        # u_xx = 0 and u_t + u u_x = -x/(1+t)^2 + x/(1+t)^2 = 0: a solution for every
        # nu, so there is no wrong coefficient (wrong=None).
        "burgers_rational",
        lambda p: p[0] / (1 + p[1]),
        lambda u, **c: pdes.burgers(u, **c),
        {"nu": 0.01},
        None,
        (-1.0, 0.0),
        (1.0, 1.0),
    ),
    Solution(
        "poisson_2d",
        lambda p: jnp.sin(jnp.pi * p[0]) * jnp.sin(jnp.pi * p[1]),
        lambda u, **c: pdes.poisson(u, **c),
        {"source": _poisson_source(2)},
        {"source": _poisson_source(1)},
        (0.0, 0.0),
        (1.0, 1.0),
    ),
    Solution(
        "poisson_3d",
        lambda p: jnp.prod(jnp.sin(jnp.pi * p)),
        lambda u, **c: pdes.poisson(u, **c),
        {"source": _poisson_source(3)},
        {"source": _poisson_source(2)},
        (0.0, 0.0, 0.0),
        (1.0, 1.0, 1.0),
    ),
    Solution(
        "heat_1d",
        lambda p: jnp.exp(-_KAPPA * jnp.pi**2 * p[1]) * jnp.sin(jnp.pi * p[0]),
        lambda u, **c: pdes.heat(u, **c),
        {"diffusivity": _KAPPA},
        {"diffusivity": 2 * _KAPPA},
        (0.0, 0.0),
        (1.0, 0.5),
    ),
    Solution(
        "heat_2d",
        _heat_2d(_KAPPA),
        lambda u, **c: pdes.heat(u, **c),
        {"diffusivity": _KAPPA},
        {"diffusivity": 0.5 * _KAPPA},
        (0.0, 0.0, 0.0),
        (1.0, 1.0, 0.5),
    ),
    Solution(
        "wave_1d",
        lambda p: jnp.sin(jnp.pi * p[0]) * jnp.cos(_SPEED * jnp.pi * p[1]),
        lambda u, **c: pdes.wave(u, **c),
        {"speed": _SPEED},
        {"speed": 1.0},
        (0.0, 0.0),
        (1.0, 1.0),
    ),
    Solution(
        # sin(pi x) sin(2 pi y) cos(c pi sqrt(5) t): u_tt = -5 c^2 pi^2 u = c^2 Delta u.
        "wave_2d",
        lambda p: (
            jnp.sin(jnp.pi * p[0])
            * jnp.sin(2 * jnp.pi * p[1])
            * jnp.cos(_SPEED * jnp.pi * jnp.sqrt(5.0) * p[2])
        ),
        lambda u, **c: pdes.wave(u, **c),
        {"speed": _SPEED},
        {"speed": -2.0},
        (0.0, 0.0, 0.0),
        (1.0, 1.0, 1.0),
    ),
    Solution(
        "advection_1d",
        lambda p: jnp.sin(p[0] - 0.8 * p[1]),
        lambda u, **c: pdes.advection(u, **c),
        {"velocity": 0.8},
        {"velocity": 0.4},
        (-2.0, 0.0),
        (2.0, 1.0),
    ),
    Solution(
        # Any g(x - c t) solves u_t + c . grad u = 0.
        "advection_2d",
        lambda p: jnp.exp(-((p[0] - _C2[0] * p[2]) ** 2 + (p[1] - _C2[1] * p[2]) ** 2)),
        lambda u, **c: pdes.advection(u, **c),
        {"velocity": _C2},
        {"velocity": (_C2[0], -_C2[1])},
        (-1.0, -1.0, 0.0),
        (1.0, 1.0, 1.0),
    ),
    Solution(
        # Stationary kink: tanh(beta x) with beta^2 = k / (2 eps) balances
        # eps u_xx = -2 eps beta^2 u (1 - u^2) against k (u - u^3).
        "allen_cahn_kink",
        lambda p: jnp.tanh(jnp.sqrt(_AC_K / (2 * _AC_EPS)) * p[0]) + 0 * p[1],
        lambda u, **c: pdes.allen_cahn(u, **c),
        {"diffusion": _AC_EPS, "reaction": _AC_K},
        {"diffusion": _AC_EPS, "reaction": 2 * _AC_K},
        (-0.3, 0.0),
        (0.3, 1.0),
    ),
    Solution(
        "helmholtz_1d",
        lambda p: jnp.sin(_K * p[0]),
        lambda u, **c: pdes.helmholtz(u, **c),
        {"wavenumber": _K, "source": lambda p: 0.0},
        {"wavenumber": 2 * _K, "source": lambda p: 0.0},
        (-1.0,),
        (1.0,),
    ),
    Solution(
        "helmholtz_2d",
        _helmholtz_2d_field,
        lambda u, **c: pdes.helmholtz(u, **c),
        {"wavenumber": _K, "source": _helmholtz_2d_source(_K)},
        {"wavenumber": _K + 0.5, "source": _helmholtz_2d_source(_K)},
        (0.0, 0.0),
        (1.0, 1.0),
    ),
)


def burgers_problem(*, width, depth, counts=(32, 8, 8), dtype=None, seed=0):
    """A small Burgers training problem: `(model, loss, sampler)`.

    MLP `2-width^depth-1` with key `seed`; residual, Dirichlet and initial terms;
    a sampler drawing `counts = (interior, boundary, initial)` points in `dtype`.
    """
    import pinnlib as pl

    domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 1.0)
    u = pl.nn.mlp(2, width=width, depth=depth, key=jax.random.key(seed), dtype=dtype)
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers),
        bc=pl.losses.dirichlet(0.0),
        ic=pl.losses.initial(lambda p: -jnp.sin(jnp.pi * p[0])),
    )
    interior, boundary, initial = counts
    sampler = pl.domains.sampler(
        domain,
        dtype=dtype,
        pde=("interior", interior),
        bc=("boundary", boundary),
        ic=("initial", initial),
    )
    return u, loss, sampler
