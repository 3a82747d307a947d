"""Loss `args`: unknown keys, missing coefficients, target shapes and dtypes."""

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnlib as pl


def _points(n=16, d=2, dtype=jnp.float64, seed=0):
    return jax.random.uniform(jax.random.key(seed), (n, d), dtype)


def _field(x):
    return jnp.sin(x[0]) * jnp.exp(-x[-1])


def _evaluate(loss, batch, args, model=_field):
    dtype = next(iter(batch.values())).dtype
    return loss(model, batch, loss.init_weights(dtype), args)


def test_accepts_of_builders():
    assert pl.losses.residual(pl.pdes.allen_cahn).accepts == {"diffusion", "reaction"}
    assert pl.losses.residual(pl.pdes.burgers).accepts == {"nu"}
    for term in (
        pl.losses.dirichlet(0.0),
        pl.losses.initial(0.0),
        pl.losses.initial(0.0, velocity=1.0),
        pl.losses.neumann(0.0, normal=(1.0, 0.0)),
        pl.losses.periodic(axis=0, period=1.0),
        pl.losses.data(),
    ):
        assert term.accepts == frozenset()
    causal = pl.losses.causal_residual(pl.pdes.allen_cahn)
    assert causal.accepts == {"diffusion", "reaction", "causal_tolerance"}
    assert pl.losses.least_squares(lambda m, p, a: p[:, 0]).accepts is None
    assert pl.losses.least_squares(lambda m, p, a: p[:, 0], accepts=["k"]).accepts == {
        "k"
    }
    with pytest.raises(ValueError, match=r"least_squares\(accepts=...\)"):
        pl.losses.least_squares(lambda m, p, a: p[:, 0], accepts="k")


def test_unknown_key_names_key_and_accepted_keys():
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.allen_cahn), ic=pl.losses.initial(0.0)
    )
    batch = {"pde": _points(), "ic": _points(4)}
    with pytest.raises(ValueError) as info:
        _evaluate(loss, batch, {"epsilon": 1e-3})
    message = str(info.value)
    assert "args=..." in message and "'epsilon'" in message
    assert "pde: ['diffusion', 'reaction']" in message and "ic: no key" in message
    assert "Rename" in message
    # A near miss gets a suggestion; residuals (Gauss–Newton) check too.
    with pytest.raises(ValueError, match="did you mean 'diffusion'"):
        _evaluate(loss, batch, {"difusion": 1e-3})
    with pytest.raises(ValueError, match="'epsilon'"):
        loss.residuals(_field, batch, loss.init_weights(), {"epsilon": 1e-3})


def test_valid_keys_pass_and_are_used():
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.allen_cahn), ic=pl.losses.initial(0.0)
    )
    batch = {"pde": _points(), "ic": _points(4)}
    default = _evaluate(loss, batch, None)[1]["pde"]
    same = _evaluate(loss, batch, {"diffusion": 1e-4, "reaction": 5.0})[1]["pde"]
    other = _evaluate(loss, batch, {"diffusion": 0.3})[1]["pde"]
    np.testing.assert_allclose(same, default, rtol=1e-14)
    assert abs(other - default) > 1e-6
    # The causal term also reads its tolerance.
    causal = pl.losses.combine(pde=pl.losses.causal_residual(pl.pdes.allen_cahn))
    _evaluate(causal, {"pde": _points()}, {"causal_tolerance": 10.0, "diffusion": 0.1})
    with pytest.raises(ValueError, match="'causal_tol'"):
        _evaluate(causal, {"pde": _points()}, {"causal_tol": 10.0})


def test_unknown_terms_skip_the_check():
    def flexible(u, **coefficients):
        return lambda x: u(x) - coefficients.get("shift", 0.0)

    term = pl.losses.residual(flexible)
    assert term.accepts is None
    loss = pl.losses.combine(pde=term, bc=pl.losses.dirichlet(0.0))
    batch = {"pde": _points(), "bc": _points(4)}
    _, values = _evaluate(loss, batch, {"shift": 1.0, "anything": 2.0})
    expected = jnp.mean(jax.vmap(lambda x: (_field(x) - 1.0) ** 2)(batch["pde"]))
    np.testing.assert_allclose(values["pde"], expected, rtol=1e-12)
    # A plain function term may read any key: no check.
    own = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers),
        mine=lambda model, points, args: args["weight"] * jnp.mean(points),
    )
    _evaluate(own, {"pde": _points(), "mine": _points(4)}, {"nu": 0.1, "weight": 2.0})


def test_missing_required_coefficient():
    term = pl.losses.residual(pl.pdes.helmholtz)
    assert term.accepts == {"wavenumber", "source"}
    with pytest.raises(TypeError) as info:
        term(_field, _points(), {"source": lambda x: 0.0})
    message = str(info.value)
    assert "pinnlib.pdes.helmholtz" in message and "['wavenumber']" in message
    assert "`args`" in message and "keys ['source']" in message
    with pytest.raises(TypeError, match=r"\['nu'\].*keys \[\]"):
        pl.losses.residual(pl.pdes.burgers)(_field, _points(), None)


def test_dirichlet_shape_error_and_components():
    def vector(x):
        return jnp.stack([x[0], 2 * x[1], x[0] * x[1]])

    pts = _points()
    with pytest.raises(ValueError) as info:
        pl.losses.dirichlet(lambda x: jnp.zeros(2, x.dtype))(vector, pts, None)
    message = str(info.value)
    assert "dirichlet(g=...)" in message and "(3,)" in message and "(2,)" in message
    assert "components=" in message
    # components selects the outputs; a scalar target applies to every output.
    target = lambda x: jnp.stack([x[0], x[1]])  # noqa: E731
    term = pl.losses.dirichlet(target, components=(0, 1))
    np.testing.assert_allclose(
        term(vector, pts, None), jnp.mean(pts[:, 1] ** 2), rtol=1e-12
    )
    np.testing.assert_allclose(
        pl.losses.dirichlet(0.0, components=[2])(vector, pts, None),
        jnp.mean((pts[:, 0] * pts[:, 1]) ** 2),
        rtol=1e-12,
    )
    all_outputs = pl.losses.dirichlet(1.0)(vector, pts, None)
    np.testing.assert_allclose(
        all_outputs, jnp.mean(jnp.sum((jax.vmap(vector)(pts) - 1.0) ** 2, 1))
    )
    with pytest.raises(ValueError, match=r"components=...\).*\(3,\)"):
        pl.losses.dirichlet(0.0, components=(3,))(vector, pts, None)
    with pytest.raises(ValueError, match=r"components=...\).*\(\)"):
        pl.losses.dirichlet(0.0, components=(0,))(_field, pts, None)
    with pytest.raises(ValueError, match=r"initial\(g=...\).*\(2,\)"):
        pl.losses.initial(lambda x: x)(_field, pts, None)


def test_float64_target_for_float32_model_raises():
    model = pl.nn.mlp(
        in_size=2, width=8, depth=2, key=jax.random.key(0), dtype=jnp.float32
    )
    pts = _points(dtype=jnp.float32)
    for term, where in (
        (pl.losses.dirichlet(lambda x: jnp.zeros(())), "dirichlet(g=...)"),
        (pl.losses.initial(lambda x: np.float64(1.0)), "initial(g=...)"),
        (pl.losses.initial(0.0, velocity=lambda x: jnp.ones(())), "velocity=..."),
        (pl.losses.neumann(lambda x: jnp.zeros(()), normal=(1.0, 0.0)), "neumann(g"),
        (pl.losses.residual(pl.pdes.poisson), "pinnlib.pdes.poisson"),
    ):
        args = {"source": lambda x: jnp.ones(())}  # float64 under x64
        with pytest.raises(TypeError, match=rf"{re.escape(where)}.*float64.*float32"):
            term(model, pts, args if term.accepts else None)
    # Python numbers, and functions of the point, take the model's dtype.
    for term in (
        pl.losses.dirichlet(0.0),
        pl.losses.dirichlet(lambda x: 1.0),
        pl.losses.initial(lambda p: -jnp.sin(jnp.pi * p[0]), velocity=0.5),
    ):
        assert term(model, pts, None).dtype == jnp.float32


def test_combine_example_float32_model_under_x64():
    u = pl.nn.mlp(in_size=2, width=8, depth=2, key=jax.random.key(0), dtype=jnp.float32)
    batch = {"pde": _points(dtype=jnp.float32), "bc": _points(4, dtype=jnp.float32)}
    batch["ic"] = batch["bc"]
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers),
        bc=pl.losses.dirichlet(0.0),
        ic=pl.losses.initial(lambda p: -jnp.sin(jnp.pi * p[0])),
    )
    weights = loss.init_weights(batch["pde"].dtype)
    total, terms = loss(u, batch, weights, {"nu": 0.01 / jnp.pi})
    assert total.dtype == jnp.float32
    assert all(v.dtype == jnp.float32 for v in terms.values())


def test_function_coefficient_matches_hand_computation():
    def poisson(u, *, source, scale):
        # r = -scale * Δu - f
        return lambda x: -scale * pl.diff.laplacian(u)(x) - source(x)

    def u(x):
        return x[0] ** 2 * x[1]  # Δu = 2 y

    def source(x):
        return jnp.cos(x[0]) + x[1]

    pts = _points()
    args = {"source": source, "scale": jnp.asarray(3.0)}
    term = pl.losses.residual(poisson)
    hand = -3.0 * 2 * pts[:, 1] - (jnp.cos(pts[:, 0]) + pts[:, 1])
    np.testing.assert_allclose(term.misfit(u, pts, args), hand, rtol=1e-12)
    loss = pl.losses.combine(pde=term)
    total, _ = eqx.filter_jit(loss)(u, {"pde": pts}, loss.init_weights(), args)
    np.testing.assert_allclose(total, jnp.mean(hand**2), rtol=1e-12)
    with pytest.raises(ValueError, match="'sauce'"):
        _evaluate(loss, {"pde": pts}, {**args, "sauce": source}, u)
