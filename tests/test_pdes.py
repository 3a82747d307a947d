"""pinnlib.pdes: exact/manufactured solutions give zero residuals; the residuals react
to their coefficients; coefficients may be traced; bad coefficients raise."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import SOLUTIONS, assert_close, random_mlp, random_points

import pinnlib as pl
import pinnlib.pdes as pdes
from pinnlib.diff import partials

N = 8  # points per check; one batch size throughout keeps eager compilations shared
# Residual terms are at most O(100) here (pi^2 factors, tanh slopes ~ 10) and every
# derivative is exact up to float64 rounding (~1e-16 relative): atol 1e-10 is ample.
ATOL = 1e-10


def _points(solution, seed=0):
    return random_points(seed, N, solution.lower, solution.upper)


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda s: s.name)
def test_exact_solution_has_zero_residual(solution):
    points = _points(solution)
    r = jax.vmap(solution.residual(solution.field, **solution.coefficients))(points)
    assert r.shape == (N,) and r.dtype == jnp.float64
    assert_close(r, np.zeros(N), rtol=0, atol=ATOL)
    if solution.wrong is not None:
        # The residual reacts to its coefficients: the test above could fail.
        wrong = jax.vmap(solution.residual(solution.field, **solution.wrong))(points)
        assert float(jnp.max(jnp.abs(wrong))) > 1e-2, solution.name


def test_burgers_rational_solution_for_any_viscosity():
    # u = x / (1 + t) has u_xx = 0, so it solves viscous Burgers for every nu; a
    # perturbed field does not.
    points = random_points(1, N, (-1.0, 0.0), (1.0, 1.0))
    for nu in (0.0, 0.3, 2.0):
        r = jax.vmap(pdes.burgers(lambda p: p[0] / (1 + p[1]), nu=nu))(points)
        assert_close(r, np.zeros(N), rtol=0, atol=ATOL)
    r = jax.vmap(pdes.burgers(lambda p: p[0] / (1 + 2 * p[1]), nu=0.3))(points)
    assert float(jnp.max(jnp.abs(r))) > 1e-2


def test_allen_cahn_manufactured():
    # u = exp(-t) sin(pi x): u_t = -u, u_xx = -pi^2 u, so the residual must equal
    # -u + eps pi^2 u + k (u^3 - u) (an independent closed form, not the library's).
    def u(p):
        return jnp.exp(-p[1]) * jnp.sin(jnp.pi * p[0])

    points = random_points(2, N, (-1.0, 0.0), (1.0, 1.0))
    v = jax.vmap(u)(points)
    for kwargs, (eps, k) in (
        ({}, (1e-4, 5.0)),  # the documented defaults
        ({"diffusion": 0.05, "reaction": 2.0}, (0.05, 2.0)),
    ):
        r = jax.vmap(pdes.allen_cahn(u, **kwargs))(points)
        expected = -v + eps * math.pi**2 * v + k * (v**3 - v)
        assert_close(r, expected, rtol=1e-12, atol=1e-13)


def test_residuals_return_point_functions_of_scalars():
    x = jnp.array([0.3, 0.2])
    for r in (
        pdes.burgers(lambda p: p[0] * p[1], nu=0.1),
        pdes.poisson(lambda p: p[0] * p[1], source=lambda p: 0.0),
        pdes.heat(lambda p: p[0] * p[1], diffusivity=1.0),
        pdes.wave(lambda p: p[0] * p[1], speed=1.0),
        pdes.advection(lambda p: p[0] * p[1], velocity=1.0),
        pdes.allen_cahn(lambda p: p[0] * p[1]),
        pdes.helmholtz(lambda p: p[0] * p[1], wavenumber=1.0, source=lambda p: 0.0),
    ):
        assert callable(r) and r(x).shape == ()


# ------------------------------------------------------------- traced coefficients


@pytest.mark.parametrize(
    "name",
    [
        "burgers_travelling_wave",
        "heat_2d",
        "wave_1d",
        "advection_2d",
        "allen_cahn_kink",
        "helmholtz_2d",
    ],
)
def test_coefficients_traced_under_jit(name):
    solution = next(s for s in SOLUTIONS if s.name == name)
    # Array coefficients go through jit as arguments (traced); callables stay static.
    arrays = {
        k: jnp.asarray(v) for k, v in solution.coefficients.items() if not callable(v)
    }
    static = {k: v for k, v in solution.coefficients.items() if callable(v)}

    @jax.jit
    def residuals(coefficients, points):
        return jax.vmap(solution.residual(solution.field, **coefficients, **static))(
            points
        )

    points = _points(solution, seed=3)
    assert_close(residuals(arrays, points), np.zeros(N), rtol=0, atol=ATOL)
    wrong = {k: jnp.asarray(v) for k, v in solution.wrong.items() if not callable(v)}
    # Same compiled function, other values: the coefficients were not baked in.
    assert float(jnp.max(jnp.abs(residuals(wrong, points)))) > 1e-2


# --------------------------------------------------------------------- bad inputs

_CALLS = {
    "burgers": lambda u, c: pdes.burgers(u, nu=c),
    "heat": lambda u, c: pdes.heat(u, diffusivity=c),
    "wave": lambda u, c: pdes.wave(u, speed=c),
    "advection": lambda u, c: pdes.advection(u, velocity=c),
    "allen_cahn(diffusion": lambda u, c: pdes.allen_cahn(u, diffusion=c),
    "allen_cahn(reaction": lambda u, c: pdes.allen_cahn(u, reaction=c),
    "helmholtz": lambda u, c: pdes.helmholtz(u, wavenumber=c, source=lambda p: 0.0),
}
_ARG = {
    "burgers": "nu",
    "heat": "diffusivity",
    "wave": "speed",
    "advection": "velocity",
    "helmholtz": "wavenumber",
}


@pytest.mark.parametrize("call", sorted(_CALLS))
@pytest.mark.parametrize(
    "bad",
    [
        float("nan"),
        float("inf"),
        -float("inf"),
        np.float64("nan"),
        jnp.asarray(jnp.inf),
    ],
    ids=["nan", "inf", "-inf", "np-nan", "jnp-inf"],
)
def test_non_finite_coefficients_raise(call, bad):
    name, _, arg = call.partition("(")
    pattern = rf"pinnlib\.pdes\.{name}\({arg or _ARG[name]}=\.\.\.\).*finite"
    with pytest.raises(ValueError, match=pattern):
        _CALLS[call](lambda p: p[0], bad)


def test_non_finite_velocity_vector_raises():
    bads = ((1.0, float("nan")), np.array([np.inf, 0.0]), jnp.array([0.0, jnp.nan]))
    for bad in bads:
        with pytest.raises(ValueError, match=r"pdes\.advection\(velocity=\.\.\.\)"):
            pdes.advection(lambda p: p[0], velocity=bad)


@pytest.mark.parametrize(
    "build",
    [
        lambda s: pdes.poisson(lambda p: p[0], source=s),
        lambda s: pdes.helmholtz(lambda p: p[0], wavenumber=1.0, source=s),
    ],
    ids=["poisson", "helmholtz"],
)
def test_non_callable_source_raises(build):
    # pinnlib raises ValueError naming `source`; under pytest the jaxtyping hook may
    # reject the annotation first with a TypeError that also names it.
    with pytest.raises((ValueError, TypeError), match=r"source"):
        build(2.0)
    with pytest.raises((ValueError, TypeError), match=r"source"):
        build(jnp.ones(2))


# ----------------------------------------------- MLP fields: fused path = generic


def _manual(name, u, x, c):
    """Each residual written out from derivatives on the nested-jvp path."""

    def d(*indices):
        return partials(u, x, *indices, fused=False)

    if name == "burgers":
        v, v_t, v_x, v_xx = d((), (1,), (0,), (0, 0))
        return v_t + v * v_x - c["nu"] * v_xx
    if name == "poisson":
        return -sum(d((0, 0), (1, 1))) - c["source"](x)
    if name == "heat":
        u_t, u_xx, u_yy = d((2,), (0, 0), (1, 1))
        return u_t - c["diffusivity"] * (u_xx + u_yy)
    if name == "wave":
        u_tt, u_xx = d((1, 1), (0, 0))
        return u_tt - c["speed"] ** 2 * u_xx
    if name == "advection":
        u_t, u_x, u_y = d((2,), (0,), (1,))
        return u_t + c["velocity"][0] * u_x + c["velocity"][1] * u_y
    if name == "allen_cahn":
        v, v_t, v_xx = d((), (1,), (0, 0))
        return v_t - c["diffusion"] * v_xx + c["reaction"] * (v**3 - v)
    if name == "helmholtz":
        v, u_xx, u_yy = d((), (0, 0), (1, 1))
        return u_xx + u_yy + c["wavenumber"] ** 2 * v - c["source"](x)
    raise AssertionError(name)


_MLP_CASES = {
    "burgers": (2, {"nu": 0.05}),
    "poisson": (2, {"source": lambda p: jnp.sin(p[0]) * p[1]}),
    "heat": (3, {"diffusivity": 0.3}),
    "wave": (2, {"speed": 1.7}),
    "advection": (3, {"velocity": (0.7, -0.4)}),
    "allen_cahn": (2, {"diffusion": 0.01, "reaction": 3.0}),
    "helmholtz": (2, {"wavenumber": 2.0, "source": lambda p: p[0] * p[1]}),
}


@pytest.mark.parametrize("name", sorted(_MLP_CASES))
def test_mlp_residual_matches_generic_path(name):
    dim, coefficients = _MLP_CASES[name]
    u = random_mlp(7, dim, activation="tanh")
    points = random_points(4, N, [-1.0] * dim, [1.0] * dim)
    fused = jax.vmap(getattr(pdes, name)(u, **coefficients))(points)
    manual = jax.vmap(lambda x: _manual(name, u, x, coefficients))(points)
    # Same derivatives, different order of operations: float64 rounding only.
    assert_close(fused, manual, rtol=1e-10, atol=1e-12)
    assert float(jnp.max(jnp.abs(fused))) > 1e-3  # not a zero-vs-zero comparison


@pytest.mark.parametrize(
    "make",
    [
        lambda u: pl.pdes.burgers(u, nu=0.1),
        lambda u: pl.pdes.allen_cahn(u),
    ],
)
def test_one_dimensional_equations_reject_other_point_dimensions(make):
    with pytest.raises((ValueError, TypeError), match="points"):
        make(lambda p: p[0])(jnp.zeros(3))


def test_space_time_equations_need_space_and_time():
    with pytest.raises((ValueError, TypeError), match="points"):
        pl.pdes.heat(lambda p: p[0], diffusivity=1.0)(jnp.zeros(1))
