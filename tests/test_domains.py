import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnlib.domains as pd

METHODS = ["uniform", "latin_hypercube", "sobol", "halton", "grid"]
DTYPES = [jnp.float32, jnp.float64]

DOMAINS = {
    "interval": pd.Interval(-1.0, 2.0),
    "box2": pd.Box((0.0, -1.0), (2.0, 1.0)),
    "box3": pd.Box((0.0, -1.0, 2.0), (1.0, 1.0, 3.0)),
    "st1": pd.SpaceTime(pd.Interval(-1.0, 1.0), 0.0, 1.0),
    "st2": pd.SpaceTime(pd.Box((0.0, 0.0), (1.0, 1.0)), 0.5, 1.5),
}


def _grid_count(d, m=4):
    return m**d


def _on_face(domain, points, face):
    """Whether every point lies exactly on the named face."""
    if face in ("initial", "final"):
        axis, value = domain.dim - 1, domain.t0 if face == "initial" else domain.t1
    else:
        axis = int(face[1])
        value = domain.lower[axis] if face.endswith("lower") else domain.upper[axis]
    points = np.asarray(points)
    return bool(np.all(points[:, axis] == np.asarray(value, points.dtype)))


def test_geometry_properties():
    st = DOMAINS["st2"]
    assert DOMAINS["interval"].dim == 1 and DOMAINS["interval"].lower == (-1.0,)
    assert DOMAINS["box3"].dim == 3 and DOMAINS["box3"].upper == (1.0, 1.0, 3.0)
    assert st.dim == 3 and st.lower == (0.0, 0.0, 0.5) and st.upper == (1.0, 1.0, 1.5)
    assert DOMAINS["interval"].faces == ("x0_lower", "x0_upper")
    assert st.faces == (
        "x0_lower",
        "x0_upper",
        "x1_lower",
        "x1_upper",
        "initial",
        "final",
    )
    assert jax.tree.leaves(st) == []  # static bounds only


# Every method on domains of dimension 1, 2, 3 (two are SpaceTime); dtypes alternate.
CASES = [
    (name, method, DTYPES[(i + j) % 2])
    for i, name in enumerate(["interval", "st1", "box3", "st2"])  # dims 1, 2, 3, 3
    for j, method in enumerate(METHODS)
]


@pytest.mark.parametrize("name, method, dtype", CASES)
def test_samples_lie_in_domain_and_on_faces(name, method, dtype, getkey):
    domain = DOMAINS[name]
    d = domain.dim
    n = 64  # = 64**1 = 8**2 = 4**3: valid for "grid" in every dimension
    x = pd.sample_interior(domain, n, key=getkey(), method=method, dtype=dtype)
    sampled = [x]
    for face in domain.faces:
        y = pd.sample_boundary(
            domain, n, key=getkey(), face=face, method=method, dtype=dtype
        )
        assert _on_face(domain, y, face)
        sampled.append(y)
    if isinstance(domain, pd.SpaceTime):
        z = pd.sample_initial(domain, n, key=getkey(), method=method, dtype=dtype)
        assert _on_face(domain, z, "initial")
        sampled.append(z)
    spatial = domain.space.faces if isinstance(domain, pd.SpaceTime) else domain.faces
    lo, hi = np.array(domain.lower), np.array(domain.upper)
    measures = np.array([np.prod(np.delete(hi - lo, int(f[1]))) for f in spatial])
    nb = int(64 * measures.sum() / measures.min())  # 64 or 32 points per face
    if not (method == "grid" and name == "box3"):  # 32 points make no square grid
        b = pd.sample_boundary(domain, nb, key=getkey(), method=method, dtype=dtype)
        assert b.shape == (nb, d)
        bn = np.asarray(b)
        on = np.stack(
            [
                bn[:, int(f[1])] == (lo if f.endswith("lower") else hi)[int(f[1])]
                for f in spatial
            ],
            axis=1,
        )
        assert np.all(on.sum(axis=1) == 1)  # on exactly one spatial face
        np.testing.assert_array_equal(on.sum(axis=0), nb * measures / measures.sum())
        sampled.append(b)
    for pts in sampled:
        assert pts.dtype == dtype and pts.shape[1] == d
    assert all(pts.shape[0] == n for pts in sampled[:-1])
    inside = pd.contains(domain, jnp.concatenate(sampled), atol=0.0)
    assert bool(jnp.all(inside))


def test_boundary_split_uneven_count(getkey):
    domain = DOMAINS["box3"]  # face measures 2, 2, 1, 1, 2, 2
    x = np.asarray(pd.sample_boundary(domain, 61, key=getkey()))
    counts = [
        int(np.sum(x[:, i // 2] == (domain.lower, domain.upper)[i % 2][i // 2]))
        for i in range(6)
    ]
    assert sum(counts) == 61 and x.shape == (61, 3)
    assert np.all(np.abs(np.array(counts) - 61 * np.array([2, 2, 1, 1, 2, 2]) / 10) < 1)
    interval = pd.sample_boundary(pd.Interval(0.0, 1.0), 5, key=getkey())
    assert sorted(np.asarray(interval)[:, 0].tolist()) == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_burgers_sampler_example():
    domain = pd.SpaceTime(pd.Interval(-1.0, 1.0), 0.0, 1.0)
    draw = pd.sampler(
        domain,
        pde=("interior", 2540),
        bc=("boundary", 80),
        ic=("initial", 160, "sobol"),
    )
    batch = draw(jax.random.key(0))
    assert draw.counts == {"pde": 2540, "bc": 80, "ic": 160} and draw.domain is domain
    assert {k: v.shape for k, v in batch.items()} == {
        "pde": (2540, 2),
        "bc": (80, 2),
        "ic": (160, 2),
    }
    assert bool(jnp.all(jnp.abs(batch["bc"][:, 0]) == 1.0))
    assert int(jnp.sum(batch["bc"][:, 0] == -1.0)) == 40
    assert bool(jnp.all(batch["ic"][:, 1] == 0.0))
    for v in batch.values():
        assert bool(jnp.all(pd.contains(domain, v, atol=0.0)))


def test_sampler_deterministic_jittable_and_key_dependent():
    domain = DOMAINS["st2"]
    sets = {}
    for m in METHODS:
        sets[f"{m}_pde"] = ("interior", 64, m)
        sets[f"{m}_wall"] = ("x1_upper", 64, m)
    draw = pd.sampler(domain, dtype=jnp.float32, ic=("initial", 64), **sets)
    assert draw.counts == {"ic": 64, **{k: 64 for k in sets}}
    a, b = draw(jax.random.key(1)), draw(jax.random.key(1))
    c = draw(jax.random.key(2))
    chex.assert_trees_all_equal(a, b)
    for k in a:
        assert a[k].dtype == jnp.float32 and a[k].shape == (64, 3)
        assert bool(jnp.any(a[k] != c[k])) == (not k.startswith("grid"))


def test_jit_sampler_equals_eager_sampler():
    domain = DOMAINS["st2"]
    draw = pd.sampler(
        domain,
        pde=("interior", 64, "latin_hypercube"),
        bc=("boundary", 256),
        ic=("initial", 64, "halton"),
        top=("final", 64, "sobol"),
    )
    key = jax.random.key(3)
    # Compiled code may fuse multiply-adds (FMA), so agreement is up to one rounding.
    chex.assert_trees_all_close(jax.jit(draw)(key), draw(key), rtol=0, atol=1e-15)


def test_sampler_inside_scan_does_not_retrace():
    draw = pd.sampler(DOMAINS["box2"], pde=("interior", 64), bc=("x0_lower", 64))

    @jax.jit
    @chex.assert_max_traces(n=1)
    def redraw(key):
        def body(carry, k):
            batch = draw(k)
            return carry + batch["pde"].sum() + batch["bc"].sum(), batch["pde"][0]

        return jax.lax.scan(body, 0.0, jax.random.split(key, 5))

    total, firsts = redraw(jax.random.key(0))
    redraw(jax.random.key(1))
    keys = jax.random.split(jax.random.key(0), 5)
    eager = [draw(k) for k in keys]
    chex.assert_trees_all_close(firsts, jnp.stack([b["pde"][0] for b in eager]))
    chex.assert_trees_all_close(
        total, sum(b["pde"].sum() + b["bc"].sum() for b in eager), rtol=1e-12
    )
    assert len({float(f[0]) for f in firsts}) == 5  # redrawn every step


@pytest.mark.parametrize("dtype", DTYPES)
def test_latin_hypercube_one_point_per_stratum(dtype):
    n, d = 64, 3
    for seed in range(3):
        u = np.asarray(pd.latin_hypercube(n, d, key=jax.random.key(seed), dtype=dtype))
        strata = np.floor(u.astype(np.float64) * n)
        assert u.dtype == dtype and np.all((u >= 0) & (u < 1))
        for j in range(d):
            np.testing.assert_array_equal(np.sort(strata[:, j]), np.arange(n))


def test_sobol_first_points_match_published_values():
    u = pd.sobol(8, 2, key=jax.random.key(0), randomize=False)
    expected = [
        [0, 0],
        [0.5, 0.5],
        [0.75, 0.25],
        [0.25, 0.75],
        [0.375, 0.375],
        [0.875, 0.875],
        [0.625, 0.125],
        [0.125, 0.625],
    ]
    np.testing.assert_array_equal(np.asarray(u), np.array(expected))


def test_sobol_matches_scipy_in_all_supported_dims():
    qmc = pytest.importorskip("scipy.stats.qmc")
    ref = qmc.Sobol(21, scramble=False).random_base2(10)
    u = pd.sobol(1024, 21, key=jax.random.key(0), randomize=False)
    np.testing.assert_array_equal(np.asarray(u), ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sobol_digital_shift_keeps_net_property(dtype):
    m = 7
    n = 2**m
    first = None
    for seed in range(3):
        u = np.asarray(
            pd.sobol(n, 2, key=jax.random.key(seed), dtype=dtype), np.float64
        )
        assert np.all((u >= 0) & (u < 1))
        for k in range(m + 1):  # every elementary box of volume 2^-m holds one point
            cells = np.floor(u[:, 0] * 2**k) * 2 ** (m - k) + np.floor(
                u[:, 1] * 2 ** (m - k)
            )
            assert len(np.unique(cells)) == n
        if first is None:
            first = u
        else:
            assert not np.array_equal(first, u)


def test_halton_radical_inverse_and_shift():
    u = np.asarray(pd.halton(8, 3, key=jax.random.key(0), randomize=False))
    base2 = [0, 1 / 2, 1 / 4, 3 / 4, 1 / 8, 5 / 8, 3 / 8, 7 / 8]
    base3 = [0, 1 / 3, 2 / 3, 1 / 9, 4 / 9, 7 / 9, 2 / 9, 5 / 9]
    base5 = [0, 1 / 5, 2 / 5, 3 / 5, 4 / 5, 1 / 25, 6 / 25, 11 / 25]
    np.testing.assert_allclose(u, np.array([base2, base3, base5]).T, atol=1e-15)
    shifted = np.asarray(pd.halton(8, 3, key=jax.random.key(3)))
    delta = np.mod(shifted - u, 1.0)  # Cranley-Patterson: one shift per coordinate
    delta = np.where(delta > 1 - 1e-12, delta - 1, delta)
    np.testing.assert_allclose(
        delta, np.broadcast_to(delta[:1], delta.shape), atol=1e-12
    )
    assert np.all((shifted >= 0) & (shifted < 1))


def test_grid_points_and_errors():
    u = pd.grid(9, 2, key=jax.random.key(0))
    v = pd.grid(9, 2, key=jax.random.key(5))
    chex.assert_trees_all_equal(u, v)  # the key is ignored
    c = np.array([1 / 6, 1 / 2, 5 / 6])
    np.testing.assert_allclose(
        np.asarray(u), np.stack(np.meshgrid(c, c, indexing="ij"), -1).reshape(9, 2)
    )
    with pytest.raises(ValueError, match=r"n=.*64 \(4\*\*3\) or 125 \(5\*\*3\)"):
        pd.grid(100, 3, key=jax.random.key(0))
    with pytest.raises(
        ValueError, match=r"sample_interior\(num_points=...\).*9 \(3\*\*2\)"
    ):
        pd.sample_interior(DOMAINS["box2"], 10, key=jax.random.key(0), method="grid")
    with pytest.raises(ValueError, match=r"sample_boundary\(num_points=...\)"):
        pd.sample_boundary(DOMAINS["box3"], 60, key=jax.random.key(0), method="grid")


def test_contains():
    domain = DOMAINS["st1"]
    pts = jnp.array(
        [[0.0, 0.5], [1.0, 1.0], [1.1, 0.5], [0.0, -0.1], [1.0 + 1e-8, 0.0]]
    )
    np.testing.assert_array_equal(
        np.asarray(pd.contains(domain, pts)), [True, True, False, False, True]
    )
    assert not bool(pd.contains(domain, pts, atol=0.0)[-1])
    with pytest.raises(ValueError, match="wrong point dimension for the domain"):
        pd.contains(domain, jnp.zeros((3, 3)))


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: pd.Interval(1.0, 0.0), r"Interval\(lower=..., upper=...\)"),
        (lambda: pd.Interval(0.0, float("inf")), r"Interval\(upper=...\).*finite"),
        (lambda: pd.Box((0.0, 1.0), (1.0, 1.0)), r"Box\(lower=..., upper=...\)"),
        (
            lambda: pd.Box((0.0, 0.0), (1.0,)),
            r"Box\(lower=..., upper=...\).*same length",
        ),
        (
            lambda: pd.SpaceTime(pd.Interval(0.0, 1.0), 1.0, 0.0),
            r"SpaceTime\(t0=..., t1",
        ),
        (lambda: pd.SpaceTime(DOMAINS["st1"], 0.0, 1.0), r"SpaceTime\(space=...\)"),
    ],
)
def test_bad_geometry(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda k: pd.sample_boundary(DOMAINS["box2"], 4, key=k, face="top"),
            r"sample_boundary\(face=...\).*x0_lower",
        ),
        (
            lambda k: pd.sample_interior(DOMAINS["box2"], 0, key=k),
            r"sample_interior\(num_points=...\)",
        ),
        (
            lambda k: pd.sample_boundary(DOMAINS["box2"], -3, key=k),
            r"sample_boundary\(num_points=...\)",
        ),
        (
            lambda k: pd.sample_interior(DOMAINS["box2"], True, key=k),
            r"sample_interior\(num_points=...\)",
        ),
        (
            lambda k: pd.sample_initial(DOMAINS["box2"], 4, key=k),
            r"sample_initial\(domain=...\).*SpaceTime",
        ),
        (
            lambda k: pd.sample_interior(DOMAINS["box2"], 4, key=k, method="random"),
            r"sample_interior\(method=...\)",
        ),
        (
            lambda k: pd.sample_interior(DOMAINS["box2"], 4, key=k, dtype=jnp.int32),
            r"sample_interior\(dtype=...\)",
        ),
        (
            lambda k: pd.sample_interior(
                pd.Box((0.0,) * 22, (1.0,) * 22), 4, key=k, method="sobol"
            ),
            r"sample_interior\(method=...\)",
        ),
        (lambda k: pd.sobol(4, 22, key=k), r"sobol\(d=...\)"),
    ],
)
def test_bad_sampling_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call(jax.random.key(0))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"bc": ("edge", 8)}, r"sampler\(bc=...\).*region"),
        ({"bc": ("initial", 8)}, r"sampler\(bc=...\).*initial"),
        ({"bc": ("boundary", 0)}, r"sampler\(bc=...\)"),
        ({"bc": ("boundary", 2.5)}, r"sampler\(bc=...\)"),
        ({"bc": ("boundary", 8, "magic")}, r"sampler\(bc=...\)"),
        ({"bc": 8}, r"sampler\(bc=...\).*tuple"),
        ({"pde": ("interior", 10, "grid")}, r"sampler\(pde=...\).*9 \(3\*\*2\)"),
        ({"method": "magic", "pde": ("interior", 10)}, r"sampler\(method=...\)"),
        ({}, r"sampler.*at least one point set"),
    ],
)
def test_bad_sampler_specs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pd.sampler(DOMAINS["box2"], **kwargs)
