"""pinnlib.pdes flow residuals: navier_stokes, stokes, navier_stokes_stream.

Exact solutions give zero residuals (float64, x64 is on in conftest), wrong
coefficients or fields do not; MLP fields agree with an independent reference built
from jax.jacfwd / jax.hessian; each residual makes one partials call (one fused pass
for an MLP); jit / vmap / grad work; bad fields, points and arguments raise naming
the residual.
"""

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_close, random_mlp, random_points

import pinnlib as pl
import pinnlib.pdes as pdes
from pinnlib.diff import partials

N = 8
# Residual terms are O(100) at most here (2 pi factors, e^{2 lambda x} on x >= -0.5)
# and every derivative is exact up to float64 rounding: atol 1e-10 is ample.
ATOL = 1e-10

# ------------------------------------------------------------------ exact solutions

RE = 20.0
LAM = RE / 2 - math.sqrt(RE**2 / 4 + 4 * math.pi**2)
KOVASZNAY_BOX = ((-0.5, -0.5), (1.0, 1.5))


def kovasznay(x):
    """Kovasznay (1948): steady 2-d flow (u, v, p), nu = 1 / Re."""
    e = jnp.exp(LAM * x[0])
    u = 1 - e * jnp.cos(2 * jnp.pi * x[1])
    v = LAM / (2 * jnp.pi) * e * jnp.sin(2 * jnp.pi * x[1])
    return jnp.stack([u, v, 0.5 * (1 - e**2)])


def kovasznay_stream(x):
    """(psi, p) with (psi_y, -psi_x) = Kovasznay's velocity."""
    e = jnp.exp(LAM * x[0])
    psi = x[1] - e * jnp.sin(2 * jnp.pi * x[1]) / (2 * jnp.pi)
    return jnp.stack([psi, 0.5 * (1 - e**2)])


def taylor_green(nu):
    """2-d Taylor–Green vortex on points (x, y, t): exact for viscosity nu."""

    def field(x):
        decay = jnp.exp(-2 * nu * x[2])
        u = -jnp.cos(x[0]) * jnp.sin(x[1]) * decay
        v = jnp.sin(x[0]) * jnp.cos(x[1]) * decay
        p = -0.25 * (jnp.cos(2 * x[0]) + jnp.cos(2 * x[1])) * decay**2
        return jnp.stack([u, v, p])

    return field


def taylor_green_stream(nu):
    """(psi, p) of the Taylor–Green vortex: psi_y = u, -psi_x = v."""

    def field(x):
        decay = jnp.exp(-2 * nu * x[2])
        psi = jnp.cos(x[0]) * jnp.cos(x[1]) * decay
        p = -0.25 * (jnp.cos(2 * x[0]) + jnp.cos(2 * x[1])) * decay**2
        return jnp.stack([psi, p])

    return field


def beltrami(nu, a=math.pi / 4, d=math.pi / 2):
    """Ethier & Steinman (1994): unsteady 3-d Beltrami flow on (x, y, z, t)."""

    def field(p):
        x, y, z, t = p
        decay = jnp.exp(-nu * d**2 * t)
        u = -a * (
            jnp.exp(a * x) * jnp.sin(a * y + d * z)
            + jnp.exp(a * z) * jnp.cos(a * x + d * y)
        )
        v = -a * (
            jnp.exp(a * y) * jnp.sin(a * z + d * x)
            + jnp.exp(a * x) * jnp.cos(a * y + d * z)
        )
        w = -a * (
            jnp.exp(a * z) * jnp.sin(a * x + d * y)
            + jnp.exp(a * y) * jnp.cos(a * z + d * x)
        )
        pressure = (
            -(a**2)
            / 2
            * (
                jnp.exp(2 * a * x)
                + jnp.exp(2 * a * y)
                + jnp.exp(2 * a * z)
                + 2
                * jnp.sin(a * x + d * y)
                * jnp.cos(a * z + d * x)
                * jnp.exp(a * (y + z))
                + 2
                * jnp.sin(a * y + d * z)
                * jnp.cos(a * x + d * y)
                * jnp.exp(a * (z + x))
                + 2
                * jnp.sin(a * z + d * x)
                * jnp.cos(a * y + d * z)
                * jnp.exp(a * (x + y))
            )
        )
        return jnp.stack([u * decay, v * decay, w * decay, pressure * decay**2])

    return field


def _max(r) -> float:
    return float(jnp.max(jnp.abs(r)))


def _zero(r, shape):
    assert r.shape == shape and r.dtype == jnp.float64
    assert_close(r, np.zeros(shape), rtol=0, atol=ATOL)


def test_kovasznay_solves_steady_navier_stokes():
    points = random_points(0, N, *KOVASZNAY_BOX)
    _zero(jax.vmap(pdes.navier_stokes(kovasznay, viscosity=1 / RE))(points), (N, 3))
    # The check can fail: other viscosity, other field.
    wrong = jax.vmap(pdes.navier_stokes(kovasznay, viscosity=1 / 40))(points)
    assert _max(wrong[:, :2]) > 1e-2
    assert_close(wrong[:, 2], np.zeros(N), rtol=0, atol=ATOL)  # still divergence-free
    perturbed = lambda x: kovasznay(x) * jnp.array([1.0, 1.1, 1.0])  # noqa: E731
    r = jax.vmap(pdes.navier_stokes(perturbed, viscosity=1 / RE))(points)
    assert _max(r[:, 2]) > 1e-2


def test_taylor_green_solves_unsteady_navier_stokes():
    nu = 0.1
    points = random_points(1, N, (0.0, 0.0, 0.0), (2 * math.pi, 2 * math.pi, 1.0))
    r = pdes.navier_stokes(taylor_green(nu), viscosity=nu, unsteady=True)
    _zero(jax.vmap(r)(points), (N, 3))
    wrong = pdes.navier_stokes(taylor_green(nu), viscosity=0.3, unsteady=True)
    assert _max(jax.vmap(wrong)(points)) > 1e-2


def test_beltrami_solves_unsteady_3d_navier_stokes():
    nu = 0.05
    points = random_points(2, N, (-1.0, -1.0, -1.0, 0.0), (1.0, 1.0, 1.0, 1.0))
    r = pdes.navier_stokes(beltrami(nu), viscosity=nu, unsteady=True)
    _zero(jax.vmap(r)(points), (N, 4))
    wrong = pdes.navier_stokes(beltrami(nu), viscosity=0.2, unsteady=True)
    assert _max(jax.vmap(wrong)(points)[:, :3]) > 1e-2
    # The steady equations do not hold for the decaying flow (u_t != 0), and the
    # same field on (x, y, z) points without time is rejected, not misread.
    steady_field = lambda p: beltrami(nu)(jnp.append(p, 0.0))  # noqa: E731
    steady = pdes.navier_stokes(steady_field, viscosity=nu)
    assert _max(jax.vmap(steady)(points[:, :3])[:, :3]) > 1e-2


def test_forced_navier_stokes_manufactured():
    # u = (sin x cos y, -cos x sin y), p = x y: divergence-free; the force is the
    # residual written out by hand: (u.grad)u + grad p - nu lap u, lap u = -2u.
    nu = 0.3

    def field(x):
        s, c = jnp.sin(x), jnp.cos(x)
        return jnp.stack([s[0] * c[1], -c[0] * s[1], x[0] * x[1]])

    def force(x):
        s, c = jnp.sin(x), jnp.cos(x)
        u, v = s[0] * c[1], -c[0] * s[1]
        convection = jnp.stack(
            [u * c[0] * c[1] - v * s[0] * s[1], u * s[0] * s[1] - v * c[0] * c[1]]
        )
        return convection + jnp.stack([x[1], x[0]]) + 2 * nu * jnp.stack([u, v])

    points = random_points(3, N, (-1.0, -1.0), (1.0, 1.0))
    r = pdes.navier_stokes(field, viscosity=nu, force=force)
    _zero(jax.vmap(r)(points), (N, 3))
    unforced = jax.vmap(pdes.navier_stokes(field, viscosity=nu))(points)
    assert_close(unforced[:, :2], jax.vmap(force)(points), rtol=1e-12, atol=ATOL)


def test_stokes_manufactured_2d_and_3d():
    nu = 0.7

    def field(x):  # divergence-free, lap u = -2 pi^2 u, p = y sin x
        u = jnp.pi * jnp.sin(jnp.pi * x[0]) * jnp.cos(jnp.pi * x[1])
        v = -jnp.pi * jnp.cos(jnp.pi * x[0]) * jnp.sin(jnp.pi * x[1])
        return jnp.stack([u, v, x[1] * jnp.sin(x[0])])

    def force(x):  # grad p - nu lap u
        uv = field(x)[:2]
        return (
            jnp.stack([x[1] * jnp.cos(x[0]), jnp.sin(x[0])]) + 2 * nu * jnp.pi**2 * uv
        )

    points = random_points(4, N, (-1.0, -1.0), (1.0, 1.0))
    _zero(jax.vmap(pdes.stokes(field, viscosity=nu, force=force))(points), (N, 3))
    wrong = pdes.stokes(field, viscosity=2 * nu, force=force)
    assert _max(jax.vmap(wrong)(points)) > 1e-2

    # 3-d: u = (yz, xz, xy) is harmonic and divergence-free, p = x + 2y + 3z.
    def field3(x):
        return jnp.stack(
            [x[1] * x[2], x[0] * x[2], x[0] * x[1], x[0] + 2 * x[1] + 3 * x[2]]
        )

    force3 = lambda x: jnp.array([1.0, 2.0, 3.0], x.dtype)  # noqa: E731
    points3 = random_points(5, N, (-1.0,) * 3, (1.0,) * 3)
    _zero(jax.vmap(pdes.stokes(field3, viscosity=nu, force=force3))(points3), (N, 4))
    assert _max(jax.vmap(pdes.stokes(field3, viscosity=nu))(points3)) > 0.5


def test_stream_form_on_kovasznay_and_taylor_green():
    points = random_points(6, N, *KOVASZNAY_BOX)
    r = pdes.navier_stokes_stream(kovasznay_stream, viscosity=1 / RE)
    _zero(jax.vmap(r)(points), (N, 2))
    wrong = pdes.navier_stokes_stream(kovasznay_stream, viscosity=1 / 40)
    assert _max(jax.vmap(wrong)(points)) > 1e-2

    nu = 0.1
    points = random_points(7, N, (0.0, 0.0, 0.0), (2 * math.pi, 2 * math.pi, 1.0))
    r = pdes.navier_stokes_stream(taylor_green_stream(nu), viscosity=nu, unsteady=True)
    _zero(jax.vmap(r)(points), (N, 2))
    steady = pdes.navier_stokes_stream(taylor_green_stream(nu), viscosity=nu)
    with pytest.raises(ValueError, match=r"navier_stokes_stream\(u, \.\.\.\)\(x\)"):
        steady(points[0])
    wrong = pdes.navier_stokes_stream(
        taylor_green_stream(nu), viscosity=0.5, unsteady=True
    )
    assert _max(jax.vmap(wrong)(points)) > 1e-2


# --------------------------------------------------- MLP fields: an independent check


def _reference_navier_stokes(field, nu, unsteady):
    """The velocity–pressure residual from jax.jacfwd and jax.hessian, by the book."""

    def r(x):
        w = field(x)
        d = w.shape[0] - 1
        jac = jax.jacfwd(field)(x)  # (d + 1, n): jac[k, j] = d_j w_k
        hess = jax.hessian(field)(x)  # (d + 1, n, n)
        vel = w[:d]
        grad_u = jac[:d, :d]
        momentum = (
            grad_u @ vel
            + jac[d, :d]
            - nu * jnp.trace(hess[:d, :d, :d], axis1=1, axis2=2)
        )
        if unsteady:
            momentum = momentum + jac[:d, d]
        return jnp.append(momentum, jnp.trace(grad_u))

    return r


@pytest.mark.parametrize(
    "dim, out, unsteady", [(2, 3, False), (3, 3, True), (3, 4, False), (4, 4, True)]
)
def test_mlp_navier_stokes_matches_reference(dim, out, unsteady):
    u = random_mlp(11, dim, out, activation="tanh")
    points = random_points(8, N, [-1.0] * dim, [1.0] * dim)
    fused = jax.vmap(pdes.navier_stokes(u, viscosity=0.07, unsteady=unsteady))(points)
    reference = jax.vmap(_reference_navier_stokes(u, 0.07, unsteady))(points)
    assert fused.shape == (N, out)
    assert_close(fused, reference, rtol=1e-10, atol=1e-12)
    assert _max(fused) > 1e-3  # not a zero-vs-zero comparison


def test_mlp_stokes_matches_reference():
    u = random_mlp(12, 2, 3, activation="tanh")
    points = random_points(9, N, [-1.0] * 2, [1.0] * 2)
    stokes = jax.vmap(pdes.stokes(u, viscosity=0.4))(points)

    def reference(x):
        jac, hess = jax.jacfwd(u)(x), jax.hessian(u)(x)
        lap = jnp.trace(hess[:2], axis1=1, axis2=2)
        return jnp.append(jac[2] - 0.4 * lap, jac[0, 0] + jac[1, 1])

    assert_close(stokes, jax.vmap(reference)(points), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("unsteady", [False, True])
def test_stream_form_matches_velocity_pressure_form(unsteady):
    # A random (psi, p) network, and the (u, v, p) field it defines: the momentum
    # residuals of both forms agree, and continuity vanishes identically.
    dim = 3 if unsteady else 2
    net = random_mlp(13, dim, 2, activation="tanh")

    def velocity_pressure(x):
        grad_psi = jax.jacfwd(lambda y: net(y)[0])(x)
        return jnp.stack([grad_psi[1], -grad_psi[0], net(x)[1]])

    points = random_points(10, N, [-1.0] * dim, [1.0] * dim)
    force = lambda x: jnp.stack([jnp.sin(x[0]), x[1] ** 2])  # noqa: E731
    stream = pdes.navier_stokes_stream(
        net, viscosity=0.05, unsteady=unsteady, force=force
    )
    full = pdes.navier_stokes(
        velocity_pressure, viscosity=0.05, unsteady=unsteady, force=force
    )
    r_stream, r_full = jax.vmap(stream)(points), jax.vmap(full)(points)
    assert r_stream.shape == (N, 2)
    assert_close(r_stream, r_full[:, :2], rtol=1e-10, atol=1e-12)
    assert_close(r_full[:, 2], np.zeros(N), rtol=0, atol=1e-12)
    assert _max(r_stream) > 1e-3


# ------------------------------------------------------------- one pass per residual

_BUILDS = {
    "navier_stokes": (lambda u: pdes.navier_stokes(u, viscosity=0.1), 2, 3),
    "navier_stokes_unsteady": (
        lambda u: pdes.navier_stokes(u, viscosity=0.1, unsteady=True),
        3,
        3,
    ),
    "stokes": (lambda u: pdes.stokes(u, viscosity=0.1), 3, 4),
    "navier_stokes_stream": (
        lambda u: pdes.navier_stokes_stream(u, viscosity=0.1),
        2,
        2,
    ),
}


@pytest.mark.parametrize("name", sorted(_BUILDS))
def test_one_partials_call_per_residual(name, monkeypatch):
    build, dim, out = _BUILDS[name]
    calls = []

    def counting(u, x, *indices, **kwargs):
        calls.append(indices)
        return partials(u, x, *indices, **kwargs)

    monkeypatch.setattr(pdes, "partials", counting)
    traces = []

    def field(x):  # a plain function: the generic nested-jvp path
        traces.append(None)
        return jnp.tanh(jnp.arange(1.0, out + 1) * jnp.sum(x**2) + x[0])

    jax.make_jaxpr(build(field))(jnp.full(dim, 0.3))
    assert len(calls) == 1
    # The field is traced exactly as often as that one partials call traces it
    # (once per nest of jvps, sharing prefixes), nothing more (no extra u(x)).
    residual_traces = len(traces)
    traces.clear()
    jax.make_jaxpr(lambda x: partials(field, x, *calls[0]))(jnp.full(dim, 0.3))
    assert residual_traces == len(traces)


@pytest.mark.parametrize("name", ["navier_stokes", "navier_stokes_unsteady", "stokes"])
def test_mlp_field_is_one_fused_forward_pass(name):
    # The fused path evaluates each activation once and shares it among the value
    # and derivative streams: the residual's program holds as many tanh as u(x).
    build, dim, out = _BUILDS[name]
    u = random_mlp(14, dim, out, activation="tanh", depth=3)
    x = jnp.full(dim, 0.3)
    forward = str(jax.make_jaxpr(u)(x)).count("tanh")
    assert forward == 3
    assert str(jax.make_jaxpr(build(u))(x)).count("tanh") == forward


# -------------------------------------------------------------- jit / vmap / grad


def test_traced_viscosity_under_jit_and_loss_args():
    points = random_points(15, N, *KOVASZNAY_BOX)

    @jax.jit
    def residuals(nu, points):
        return jax.vmap(pdes.navier_stokes(kovasznay, viscosity=nu))(points)

    _zero(residuals(jnp.asarray(1 / RE), points), (N, 3))
    # Same compiled function, another value: the coefficient was not baked in.
    assert _max(residuals(jnp.asarray(0.2), points)) > 1e-2

    term = pl.losses.residual(pdes.navier_stokes)
    assert term.accepts == frozenset({"viscosity", "unsteady", "force"})
    assert float(term(kovasznay, points, {"viscosity": 1 / RE})) < 1e-20
    assert float(term(kovasznay, points, {"viscosity": 0.2})) > 1e-4

    # unsteady is structural: bound with functools.partial, viscosity from args
    nu = 0.1
    term = pl.losses.residual(functools.partial(pdes.navier_stokes, unsteady=True))
    points = random_points(19, N, (0.0, 0.0, 0.0), (2 * math.pi, 2 * math.pi, 1.0))
    assert float(term(taylor_green(nu), points, {"viscosity": nu})) < 1e-20


def test_gradient_through_the_residual_loss():
    u = random_mlp(16, 2, 3, activation="tanh")
    points = random_points(17, N, *KOVASZNAY_BOX)
    term = pl.losses.residual(pdes.navier_stokes)

    @eqx.filter_jit
    @eqx.filter_grad
    def grad(model):
        return term(model, points, {"viscosity": 0.05})

    g = grad(u)
    leaves = jax.tree.leaves(eqx.filter(g, eqx.is_array))
    assert leaves and all(bool(jnp.all(jnp.isfinite(v))) for v in leaves)
    assert sum(float(jnp.sum(v**2)) for v in leaves) > 0

    # and the stream form (third derivatives, nested jvp) differentiates too
    net = random_mlp(18, 2, 2, activation="tanh")
    stream = pl.losses.residual(pdes.navier_stokes_stream)
    g = eqx.filter_grad(lambda m: stream(m, points, {"viscosity": 0.05}))(net)
    assert all(bool(jnp.all(jnp.isfinite(v))) for v in jax.tree.leaves(g))


# ------------------------------------------------------------------- bad inputs

_FIELD3 = lambda x: jnp.stack([x[0], -x[1], x[0] * x[1]])  # noqa: E731


@pytest.mark.parametrize("out", ["scalar", 2, 5])
def test_bad_output_sizes_raise_naming_the_residual(out):
    def field(x):
        v = jnp.sum(x**2) * jnp.arange(1.0, 6.0)
        return v[0] if out == "scalar" else v[:out]

    x = jnp.zeros(2)
    for name in ("navier_stokes", "stokes"):
        r = getattr(pdes, name)(field, viscosity=0.1)
        with pytest.raises(ValueError, match=rf"pdes\.{name}\(u=\.\.\.\).*3 outputs"):
            r(x)
    if out != 2:
        r = pdes.navier_stokes_stream(field, viscosity=0.1)
        with pytest.raises(ValueError, match=r"navier_stokes_stream\(u=\.\.\.\).*psi"):
            r(x)


def test_bad_point_dimensions_raise_naming_the_residual():
    ns = pdes.navier_stokes(_FIELD3, viscosity=0.1)
    # 3 outputs (2-d flow) on 3-d points: suggests unsteady=True
    with pytest.raises(ValueError, match=r"navier_stokes\(u, \.\.\.\)\(x\).*unsteady"):
        ns(jnp.zeros(3))
    for bad in (1, 4):
        with pytest.raises(ValueError, match=r"navier_stokes\(u, \.\.\.\)\(x\)"):
            ns(jnp.zeros(bad))
    unsteady = pdes.navier_stokes(_FIELD3, viscosity=0.1, unsteady=True)
    with pytest.raises(
        ValueError, match=r"navier_stokes\(u, \.\.\.\)\(x\).*dimension 3 or 4"
    ):
        unsteady(jnp.zeros(2))
    with pytest.raises(ValueError, match=r"stokes\(u, \.\.\.\)\(x\)"):
        pdes.stokes(_FIELD3, viscosity=0.1)(jnp.zeros(3))
    with pytest.raises(ValueError, match=r"navier_stokes_stream\(u, \.\.\.\)\(x\)"):
        pdes.navier_stokes_stream(lambda x: x[:2], viscosity=0.1)(jnp.zeros(3))
    # under vmap / a loss term the error is the same
    term = pl.losses.residual(pdes.navier_stokes)
    with pytest.raises(ValueError, match=r"pdes\.navier_stokes"):
        term(_FIELD3, jnp.zeros((4, 3)), {"viscosity": 0.1})


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match=r"navier_stokes\(viscosity=\.\.\.\).*finite"):
        pdes.navier_stokes(_FIELD3, viscosity=float("nan"))
    with pytest.raises(ValueError, match=r"stokes\(viscosity=\.\.\.\).*finite"):
        pdes.stokes(_FIELD3, viscosity=jnp.inf)
    # the jaxtyping hook (under pytest) may reject the annotation first
    with pytest.raises((ValueError, TypeError), match=r"force"):
        pdes.navier_stokes(_FIELD3, viscosity=0.1, force=1.0)
    with pytest.raises((ValueError, TypeError), match=r"unsteady"):
        pdes.navier_stokes_stream(_FIELD3, viscosity=0.1, unsteady="yes")
    bad_force = pdes.navier_stokes(
        _FIELD3, viscosity=0.1, force=lambda x: jnp.zeros(3, x.dtype)
    )
    with pytest.raises(ValueError, match=r"navier_stokes\(force=\.\.\.\).*\(2,\)"):
        bad_force(jnp.zeros(2))
