"""User extensions: a custom domain, user point sequences and user activations."""

import math

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnlib as pl
import pinnlib.domains as pd
import pinnlib.nn as nn

# ------------------------------------------------------------------ a custom domain


class Annulus(pd.AbstractDomain):
    """The annulus r0 <= |x| <= r1 in 2-d, faces "inner" and "outer"."""

    r0: float = eqx.field(static=True)
    r1: float = eqx.field(static=True)

    @property
    def lower(self):
        return (-self.r1, -self.r1)

    @property
    def upper(self):
        return (self.r1, self.r1)

    @property
    def faces(self):
        return ("inner", "outer")

    def sample_interior(self, num_points, *, key, sequence, dtype):
        u = sequence(num_points, 2, key=key, dtype=dtype)
        r = jnp.sqrt(self.r0**2 + u[:, 0] * (self.r1**2 - self.r0**2))
        return _polar(r, 2 * jnp.pi * u[:, 1])

    def sample_boundary(self, num_points, *, key, face, sequence, dtype):
        if face is not None:
            theta = 2 * jnp.pi * sequence(num_points, 1, key=key, dtype=dtype)[:, 0]
            radius = self.r0 if face == "inner" else self.r1
            return _polar(jnp.full_like(theta, radius), theta)
        n_inner = round(num_points * self.r0 / (self.r0 + self.r1))  # by length
        k_inner, k_outer = jax.random.split(key)
        kwargs = dict(sequence=sequence, dtype=dtype)
        return jnp.concatenate(
            [
                self.sample_boundary(n_inner, key=k_inner, face="inner", **kwargs),
                self.sample_boundary(
                    num_points - n_inner, key=k_outer, face="outer", **kwargs
                ),
            ]
        )

    def contains(self, points, *, atol):
        r = jnp.linalg.norm(points, axis=1)
        return (r >= self.r0 - atol) & (r <= self.r1 + atol)


def _polar(r, theta):
    return jnp.stack([r * jnp.cos(theta), r * jnp.sin(theta)], axis=1)


class Boxy(pd.AbstractDomain):
    """A domain with geometry but no samplers of its own."""

    lower: tuple[float, ...] = eqx.field(static=True, default=(0.0, 0.0))
    upper: tuple[float, ...] = eqx.field(static=True, default=(1.0, 1.0))

    @property
    def faces(self):
        return ("edge",)


ANNULUS = Annulus(0.5, 1.0)


def _radii(points):
    return np.linalg.norm(np.asarray(points), axis=1)


def test_custom_domain_with_sampler(getkey):
    draw = pd.sampler(
        ANNULUS,
        pde=("interior", 256, "sobol"),
        bc=("boundary", 90),
        hole=("inner", 16, "halton"),
    )
    key = getkey()
    batch = draw(key)
    assert {k: v.shape for k, v in batch.items()} == {
        "pde": (256, 2),
        "bc": (90, 2),
        "hole": (16, 2),
    }
    r = _radii(batch["pde"])
    assert np.all((r >= 0.5 - 1e-12) & (r <= 1.0 + 1e-12))
    np.testing.assert_allclose(_radii(batch["bc"][:30]), 0.5, rtol=1e-12)
    np.testing.assert_allclose(_radii(batch["bc"][30:]), 1.0, rtol=1e-12)
    np.testing.assert_allclose(_radii(batch["hole"]), 0.5, rtol=1e-12)
    for points in batch.values():
        assert bool(jnp.all(pd.contains(ANNULUS, points)))
    chex.assert_trees_all_close(jax.jit(draw)(key), batch, rtol=0, atol=1e-14)
    other = draw(getkey())
    assert all(bool(jnp.any(other[k] != batch[k])) for k in batch)


def test_custom_domain_free_functions_and_dtype(getkey):
    x = pd.sample_interior(ANNULUS, 64, key=getkey(), dtype=jnp.float32)
    y = pd.sample_boundary(ANNULUS, 12, key=getkey(), face="outer", method="grid")
    assert x.dtype == jnp.float32 and x.shape == (64, 2)
    np.testing.assert_allclose(_radii(y), 1.0, rtol=1e-12)
    angles = np.sort(np.mod(np.arctan2(y[:, 1], y[:, 0]), 2 * np.pi))
    np.testing.assert_allclose(angles, 2 * np.pi * (np.arange(12) + 0.5) / 12)
    with pytest.raises(ValueError, match=r"sample_boundary\(face=...\).*'inner'"):
        pd.sample_boundary(ANNULUS, 4, key=getkey(), face="x0_lower")
    with pytest.raises(ValueError, match=r"sample_initial\(domain=...\).*Annulus"):
        pd.sample_initial(ANNULUS, 4, key=getkey())
    with pytest.raises(ValueError, match=r"sampler\(ic=...\).*region"):
        pd.sampler(ANNULUS, ic=("initial", 4))


def test_custom_domain_with_losses(getkey):
    # u = (1 - |x|^2) / 4 solves -Laplace(u) = 1 with u = g on both circles.
    def exact(x):
        return (1.0 - jnp.sum(x**2)) / 4.0

    def poisson(u):
        return pl.pdes.poisson(u, source=lambda x: jnp.ones((), x.dtype))

    loss = pl.losses.combine(
        pde=pl.losses.residual(poisson), bc=pl.losses.dirichlet(exact)
    )
    draw = pd.sampler(ANNULUS, pde=("interior", 128), bc=("boundary", 64))
    batch = draw(getkey())
    weights = loss.init_weights()
    total, terms = eqx.filter_jit(loss)(exact, batch, weights)
    assert float(total) < 1e-20 and set(terms) == {"pde", "bc"}
    net = nn.mlp(2, width=8, depth=2, key=getkey())
    total, grads = eqx.filter_value_and_grad(lambda m: loss(m, batch, weights)[0])(net)
    assert float(total) > 1e-3
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))


@pytest.mark.parametrize(
    "call, missing",
    [
        (lambda k: pd.sample_interior(Boxy(), 8, key=k), "sample_interior"),
        (lambda k: pd.sample_boundary(Boxy(), 8, key=k), "sample_boundary"),
        (
            lambda k: pd.sample_boundary(Boxy(), 8, key=k, face="edge"),
            "sample_boundary",
        ),
        (lambda k: pd.contains(Boxy(), jnp.zeros((3, 2))), "contains"),
        (lambda k: pd.sampler(Boxy(), pde=("interior", 8)), "sample_interior"),
        (lambda k: pd.sampler(Boxy(), bc=("edge", 8)), "sample_boundary"),
    ],
)
def test_domain_without_samplers_raises(call, missing):
    with pytest.raises(ValueError, match=rf"\(domain=...\).*{missing}.*Boxy") as err:
        call(jax.random.key(0))
    assert f"Add `def {missing}(self" in str(err.value)
    assert "bounding box" in str(err.value)


class BadShape(Annulus):
    """Samples with one coordinate too few."""

    def sample_interior(self, num_points, *, key, sequence, dtype):
        return sequence(num_points, 1, key=key, dtype=dtype)


def test_custom_domain_returning_wrong_shape_raises():
    with pytest.raises(ValueError, match=r"BadShape.sample_interior.*\(10, 2\)"):
        pd.sample_interior(BadShape(0.5, 1.0), 10, key=jax.random.key(0))


def test_builtin_domains_implement_the_protocol():
    domains = [
        pd.Interval(0.0, 1.0),
        pd.Box((0.0, 0.0), (1.0, 2.0)),
        pd.SpaceTime(pd.Interval(0.0, 1.0), 0.0, 1.0),
    ]
    for domain in domains:
        for name in ("sample_interior", "sample_boundary", "contains"):
            assert callable(getattr(domain, name))
    assert callable(getattr(domains[2], "sample_initial"))
    assert not hasattr(domains[1], "sample_initial")


# ---------------------------------------------------------- user point sequences


def _fixed(n, d, *, key, dtype):
    """A deterministic user sequence: row i is ((i + 1/2) / n, ..., (i + 1/2) / n)."""
    column = (jnp.arange(n, dtype=dtype) + 0.5) / n
    return jnp.broadcast_to(column[:, None], (n, d)).astype(dtype)


def test_user_sequence_in_sampler_maps_to_the_domain():
    domain = pd.SpaceTime(pd.Box((0.0, -1.0), (2.0, 1.0)), 1.0, 3.0)
    draw = pd.sampler(
        domain,
        method=_fixed,
        pde=("interior", 8),
        top=("x1_upper", 4),
        ic=("initial", 4, "grid"),
    )
    batch = draw(jax.random.key(0))
    key_pde = jax.random.split(jax.random.key(0), 3)[0]
    u = _fixed(8, 3, key=key_pde, dtype=batch["pde"].dtype)
    lo, hi = np.array(domain.lower), np.array(domain.upper)
    np.testing.assert_allclose(batch["pde"], lo + np.asarray(u) * (hi - lo))
    v = np.asarray(_fixed(4, 2, key=key_pde, dtype=jnp.float64))  # the free x0, t
    np.testing.assert_allclose(batch["top"][:, 0], 2.0 * v[:, 0])
    np.testing.assert_allclose(batch["top"][:, 1], 1.0)
    np.testing.assert_allclose(batch["top"][:, 2], 1.0 + 2.0 * v[:, 1])
    assert draw.sets[0][3] is _fixed and draw.sets[2][3] == "grid"
    free = pd.sample_interior(domain, 8, key=key_pde, method=_fixed)
    chex.assert_trees_all_equal(free, batch["pde"])


@pytest.mark.parametrize(
    "sequence, received",
    [
        (lambda n, d, *, key, dtype: jnp.zeros((n, d + 1), dtype), r"\(8, 3\)"),
        (lambda n, d, *, key, dtype: jnp.zeros((n, d), jnp.float32), "float32"),
        (lambda n, d, *, key, dtype: jnp.zeros((n // 2, d), dtype), r"\(4, 2\)"),
    ],
)
def test_user_sequence_with_bad_output_raises(sequence, received):
    box = pd.Box((0.0, 0.0), (1.0, 1.0))
    pattern = rf"sample_interior\(method=...\).*\(8, 2\).*{received}.*fn\(n, d"
    with pytest.raises(ValueError, match=pattern):
        pd.sample_interior(box, 8, key=jax.random.key(0), method=sequence)
    with pytest.raises(ValueError, match=r"sampler\(pde=...\).*\(method=...\)"):
        pd.sampler(box, pde=("interior", 8, sequence))


@pytest.mark.parametrize("method", ["random", "Sobol"])
def test_bad_sequence_name_raises(method):
    with pytest.raises(ValueError, match=r"sample_interior\(method=...\).*callable"):
        pd.sample_interior(
            pd.Interval(0.0, 1.0), 4, key=jax.random.key(0), method=method
        )


# --------------------------------------------------------------- user activations


def _manual(net, sigma, x):
    for layer in net.layers[:-1]:
        x = sigma(layer.weight @ x + layer.bias)
    return net.layers[-1].weight @ x + net.layers[-1].bias


def test_user_activation_in_every_architecture(getkey):
    def soft_sine(z):
        return jnp.sin(z) + 0.1 * z

    x = jnp.array([0.3, -0.2])
    net = nn.mlp(2, width=8, depth=2, activation=soft_sine, key=getkey())
    np.testing.assert_allclose(net(x), _manual(net, soft_sine, x)[0], rtol=1e-13)
    modified = nn.ModifiedMLP(2, width=8, depth=2, activation=soft_sine, key=getkey())
    factorized = nn.factorized_mlp(
        2, width=8, depth=2, activation=soft_sine, key=getkey()
    )
    assert modified.activation is soft_sine and factorized.activation is soft_sine
    assert modified(x).shape == () and factorized(x).shape == ()


@pytest.mark.parametrize(
    "activation, received",
    [
        (lambda z: jnp.sum(z), r"output of shape \(\) for shape \(3,\)"),
        (lambda z: jnp.stack([z, z]), r"output of shape \(2,\) for shape \(\)"),
        (lambda z: z > 0, "bool"),
        (lambda z: (z, z), r"an output \(ShapeDtypeStruct"),  # not one array
        (lambda a, b: a, "TypeError"),
        ("tanhh", "'tanhh'"),
    ],
)
def test_bad_activation_raises(getkey, activation, received):
    for build in (nn.mlp, nn.factorized_mlp, nn.ModifiedMLP):
        name = build.__name__
        with pytest.raises(ValueError, match=rf"{name}\(activation=...\).*{received}"):
            build(2, width=4, depth=2, activation=activation, key=getkey())


@pytest.mark.parametrize(
    "table, name", [(nn.ACTIVATIONS, "tanh"), (pd.SEQUENCES, "uniform")]
)
def test_builtin_name_tables_are_read_only(table, name):
    builtin = table[name]
    with pytest.raises(TypeError):
        table[name] = math.sin
    with pytest.raises(TypeError):
        table["mine"] = math.sin
    with pytest.raises(TypeError):
        del table[name]
    assert table[name] is builtin and "mine" not in table
    assert pl.nn.ACTIVATIONS is nn.ACTIVATIONS
