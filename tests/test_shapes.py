"""Shapes, set operations and distance functions: sampling, boundaries, normals."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnlib.domains as pd

F64 = jnp.float64
METHODS = ["uniform", "latin_hypercube", "sobol", "halton", "grid"]
L_VERTICES = [(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)]

SHAPES = {
    "disk": pd.Disk((0.5, -1.0), 1.5),
    "ellipse": pd.Ellipse((1.0, 0.0), (2.0, 0.5)),
    "annulus": pd.Annulus((0.0, 0.0), 0.4, 1.0),
    "polygon": pd.Polygon(L_VERTICES),
    "box": pd.Box((0.0, -1.0), (2.0, 1.0)),
}
# Each shape's corners (where the boundary is not smooth).
CORNERS = {
    "polygon": np.array(L_VERTICES, float),
    "box": np.array([(0, -1), (2, -1), (2, 1), (0, 1)], float),
}


def _plate():
    return pd.Box((0.0, 0.0), (2.0, 1.0)) - pd.Disk((1.0, 0.5), 0.25)


def _away_from_corners(name, x, margin=1e-3):
    corners = CORNERS.get(name)
    if corners is None:
        return np.ones(len(x), bool)
    gaps = np.linalg.norm(np.asarray(x)[:, None, :] - corners[None, :, :], axis=2)
    return gaps.min(axis=1) > margin


@pytest.mark.parametrize("name", list(SHAPES))
@pytest.mark.parametrize("method", METHODS)
def test_interior_never_leaves(name, method, getkey):
    shape = SHAPES[name]
    x = pd.sample_interior(shape, 64**2, key=getkey(), method=method, dtype=F64)
    assert x.shape == (64**2, 2) and x.dtype == F64
    assert bool(jnp.all(pd.contains(shape, x, atol=1e-12)))
    assert bool(jnp.all(pd.distance(shape, x) > -1e-12))


def _cell_fractions(x, lower, upper, bins):
    h, _, _ = np.histogram2d(
        np.asarray(x)[:, 0],
        np.asarray(x)[:, 1],
        bins=bins,
        range=[[lower[0], upper[0]], [lower[1], upper[1]]],
    )
    return h / h.sum()


@pytest.mark.parametrize("name", ["ellipse", "annulus", "polygon"])
def test_interior_density_matches_area(name, getkey):
    shape = SHAPES[name]
    n, bins = 40_000, 6
    x = pd.sample_interior(shape, n, key=getkey(), method="uniform", dtype=F64)
    lo, hi = np.array(shape.lower), np.array(shape.upper)
    m = 300
    g = (np.arange(m) + 0.5) / m
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    grid = lo + grid * (hi - lo)
    inside = np.asarray(pd.contains(shape, jnp.asarray(grid), atol=0.0))
    expected = _cell_fractions(grid[inside], lo, hi, bins)
    observed = _cell_fractions(x, lo, hi, bins)
    se = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(observed - expected) < 5 * se + 3e-3)
    # contains agrees with the sign of the distance away from the boundary
    phi = np.asarray(pd.distance(shape, jnp.asarray(grid)))
    far = np.abs(phi) > 1e-3
    assert np.array_equal(inside[far], phi[far] > 0)


@pytest.mark.parametrize("name", list(SHAPES))
def test_boundary_points_normals_and_gradients(name, getkey):
    shape = SHAPES[name]
    b = pd.sample_boundary(shape, 2000, key=getkey(), method="sobol", dtype=F64)
    phi = pd.distance(shape, b)
    assert float(jnp.max(jnp.abs(phi))) <= 1e-12
    if name == "disk":
        r = jnp.linalg.norm(b - jnp.array(shape.centre)[None, :], axis=1)
        assert float(jnp.max(jnp.abs(r - shape.radius))) <= 1e-12
    ok = _away_from_corners(name, b)
    b, n = b[ok], pd.normals(shape, b[ok])
    np.testing.assert_allclose(jnp.linalg.norm(n, axis=1), 1.0, atol=1e-12)
    eps = 1e-6
    assert not bool(jnp.any(pd.contains(shape, b + eps * n, atol=0.0)))
    assert bool(jnp.all(pd.contains(shape, b - eps * n, atol=0.0)))
    grad = jax.jit(jax.vmap(jax.grad(shape.distance)))(b)
    np.testing.assert_allclose(grad, -n, atol=1e-6)


@pytest.mark.parametrize("name", list(SHAPES) + ["plate"])
def test_hessian_finite_everywhere(name, getkey):
    shape = _plate() if name == "plate" else SHAPES[name]
    b = pd.sample_boundary(shape, 64, key=getkey(), dtype=F64)
    x = pd.sample_interior(shape, 64, key=getkey(), dtype=F64)
    extra = {
        "plate": np.array([(0, 0), (2, 1), (1, 0.25), (1, 0.75)], float),
        "annulus": np.zeros((1, 2)),
        "ellipse": np.array([(1.0, 0.0)]),
    }.get(name, CORNERS.get(name, np.zeros((0, 2))))
    points = jnp.concatenate([b, x, jnp.asarray(extra, F64)])
    hess = jax.jit(jax.vmap(jax.hessian(shape.distance)))(points)
    assert bool(jnp.all(jnp.isfinite(hess)))
    # second order by nested forward mode, as a PDE residual would
    lap = jax.jit(
        jax.vmap(
            lambda p: sum(
                jax.jvp(lambda q: jax.jvp(shape.distance, (q,), (e,))[1], (p,), (e,))[1]
                for e in jnp.eye(2, dtype=F64)
            )
        )
    )(points)
    assert bool(jnp.all(jnp.isfinite(lap)))


def test_polygon_edge_gradient_is_inward_normal():
    poly = SHAPES["polygon"]
    v = np.array(poly.vertices)
    mid = jnp.asarray((v + np.roll(v, -1, axis=0)) / 2)
    grad = jax.jit(jax.vmap(jax.grad(poly.distance)))(mid)
    np.testing.assert_allclose(grad, -pd.normals(poly, mid), atol=1e-6)
    # vertices: zero, finite derivatives; outside: negative
    assert float(jnp.max(jnp.abs(pd.distance(poly, jnp.asarray(v))))) == 0.0
    assert bool(jnp.all(jnp.isfinite(jax.jit(jax.vmap(jax.grad(poly.distance)))(v))))
    assert bool(jnp.all(pd.distance(poly, jnp.array([[1.5, 1.5], [3.0, 0.5]])) < 0))


def test_polygon_clockwise_is_stored_counter_clockwise():
    cw = pd.Polygon(L_VERTICES[::-1])
    x = jnp.array([[0.5, 0.5], [1.5, 1.5], [1.5, 0.5]])
    np.testing.assert_array_equal(pd.contains(cw, x), [True, False, True])
    assert len(cw.faces) == 6 and cw.boundary_measure == pytest.approx(8.0)


def test_ellipse_boundary_uniform_by_arc_length(getkey):
    a, b = 2.0, 0.5
    shape = pd.Ellipse((1.0, 0.0), (a, b))
    n = 20_000
    x = np.asarray(pd.sample_boundary(shape, n, key=getkey(), dtype=F64))
    theta = np.mod(np.arctan2((x[:, 1]) / b, (x[:, 0] - 1.0) / a), 2 * np.pi)
    fine = np.linspace(0, 2 * np.pi, 200_001)
    speed = np.hypot(a * np.sin(fine), b * np.cos(fine))
    arc = np.concatenate([[0], np.cumsum((speed[1:] + speed[:-1]) / 2 * np.diff(fine))])
    assert shape.boundary_measure == pytest.approx(arc[-1], rel=1e-9)
    s = np.interp(theta, fine, arc) / arc[-1]
    counts, _ = np.histogram(s, bins=10, range=(0, 1))
    se = np.sqrt(n * 0.1 * 0.9)
    assert np.all(np.abs(counts - n / 10) < 4 * se)


def test_polygon_boundary_uniform_by_arc_length(getkey):
    poly = SHAPES["polygon"]
    n = 16_000
    x = pd.sample_boundary(poly, n, key=getkey(), dtype=F64)
    v = np.array(poly.vertices)
    e = np.roll(v, -1, axis=0) - v
    length = np.linalg.norm(e, axis=1)
    counts = np.zeros(len(v))
    for i in range(len(v)):
        y = pd.sample_boundary(poly, 4, key=getkey(), face=f"edge{i}", dtype=F64)
        rel = np.asarray(y) - v[i]
        assert np.allclose(rel[:, 0] * e[i, 1] - rel[:, 1] * e[i, 0], 0, atol=1e-12)
        rel = np.asarray(x) - v[i]
        cross = np.abs(rel[:, 0] * e[i, 1] - rel[:, 1] * e[i, 0]) / length[i]
        t = (rel @ e[i]) / length[i] ** 2
        counts[i] = np.sum((cross < 1e-12) & (t > 0) & (t < 1))
    p = length / length.sum()
    assert np.all(np.abs(counts - n * p) < 4 * np.sqrt(n * p * (1 - p)) + 1)


def test_annulus_faces_and_split(getkey):
    ring = SHAPES["annulus"]
    x = pd.sample_boundary(ring, 10_000, key=getkey(), dtype=F64)
    r = np.linalg.norm(np.asarray(x), axis=1)
    on_inner = np.abs(r - 0.4) < 1e-12
    assert np.all(on_inner | (np.abs(r - 1.0) < 1e-12))
    assert abs(on_inner.mean() - 0.4 / 1.4) < 4 * np.sqrt(0.2 / 10_000)
    inner = pd.sample_boundary(ring, 8, key=getkey(), face="inner", dtype=F64)
    np.testing.assert_allclose(np.linalg.norm(inner, axis=1), 0.4, atol=1e-12)
    n = pd.normals(ring, inner)
    np.testing.assert_allclose(n, -inner / 0.4, atol=1e-12)


def test_l_shape_as_difference_matches_polygon(getkey):
    square = pd.Box((0.0, 0.0), (2.0, 2.0))
    ell = square - pd.Box((1.0, 1.0), (3.0, 3.0))
    poly = SHAPES["polygon"]
    assert ell.faces[:4] == ("x0_lower_1", "x0_upper_1", "x1_lower_1", "x1_upper_1")
    assert ell.boundary_measure == pytest.approx(8.0, rel=0.05)
    g = (np.arange(101) + 0.5) / 101 * 2.4 - 0.2
    grid = jnp.asarray(np.stack(np.meshgrid(g, g), -1).reshape(-1, 2))
    far = np.abs(np.asarray(pd.distance(poly, grid))) > 1e-3
    a, b = pd.contains(ell, grid, atol=0.0), pd.contains(poly, grid, atol=0.0)
    assert np.array_equal(np.asarray(a)[far], np.asarray(b)[far])
    assert np.array_equal(
        np.asarray(pd.distance(ell, grid))[far] > 0, np.asarray(b)[far]
    )
    x = pd.sample_interior(ell, 4000, key=getkey(), method="halton", dtype=F64)
    assert bool(jnp.all(pd.contains(poly, x, atol=1e-12)))
    y = pd.sample_boundary(ell, 4000, key=getkey(), dtype=F64)
    assert float(jnp.max(jnp.abs(pd.distance(poly, y)))) < 1e-12


def test_plate_with_hole(getkey):
    plate = _plate()
    centre = jnp.array([1.0, 0.5])
    draw = jax.jit(
        pd.sampler(
            plate,
            dtype=F64,
            pde=("interior", 5000),
            bc=("boundary", 4000, "sobol"),
            hole=("circle", 200),
        )
    )
    batch = draw(getkey())
    x, b = batch["pde"], batch["bc"]
    assert bool(jnp.all(jnp.linalg.norm(x - centre[None, :], axis=1) >= 0.25))
    assert bool(jnp.all(pd.contains(plate, x, atol=0.0)))
    r = jnp.linalg.norm(b - centre[None, :], axis=1)
    on_hole = jnp.abs(r - 0.25) < 1e-12
    on_box = pd.distance(pd.Box((0.0, 0.0), (2.0, 1.0)), b) == 0
    assert bool(jnp.all(on_hole | on_box))
    share = 2 * np.pi * 0.25 / (6 + 2 * np.pi * 0.25)
    assert abs(float(on_hole.mean()) - share) < 4 * np.sqrt(share / 4000)
    assert float(jnp.max(jnp.abs(pd.distance(plate, b)))) < 1e-12
    n = pd.normals(plate, b)
    hole_n = -(b - centre[None, :]) / 0.25  # into the hole, out of the plate
    np.testing.assert_allclose(n[on_hole], hole_n[on_hole], atol=1e-12)
    ok = _away_from_corners("box", b)
    grad = jax.jit(jax.vmap(jax.grad(plate.distance)))(b[ok])
    np.testing.assert_allclose(grad, -n[ok], atol=1e-6)
    h = batch["hole"]
    np.testing.assert_allclose(jnp.linalg.norm(h - centre[None, :], axis=1), 0.25)
    assert bool(jnp.all(pd.contains(plate, b)))


def test_union_and_intersection(getkey):
    left, right = pd.Disk((0.0, 0.0), 1.0), pd.Disk((1.0, 0.0), 1.0)
    for shape in (left | right, left & right):
        assert shape.faces == ("circle_1", "circle_2")
        x = pd.sample_interior(shape, 2000, key=getkey(), dtype=F64)
        assert bool(jnp.all(pd.contains(shape, x, atol=0.0)))
        b = pd.sample_boundary(shape, 2000, key=getkey(), dtype=F64)
        assert float(jnp.max(jnp.abs(pd.distance(shape, b)))) < 1e-12
        assert bool(jnp.all(pd.contains(shape, b, atol=1e-9)))
        n = pd.normals(shape, b)
        assert not bool(jnp.any(pd.contains(shape, b + 1e-6 * n, atol=0.0)))
    lens = left & right
    y = pd.sample_boundary(lens, 100, key=getkey(), face="circle_2", dtype=F64)
    np.testing.assert_allclose(jnp.linalg.norm(y - jnp.array([[1.0, 0.0]]), axis=1), 1)
    assert bool(jnp.all(y[:, 0] <= 0.5 + 1e-12))
    arc = 2 * np.pi / 3 * 2  # two arcs of 120 degrees
    assert lens.boundary_measure == pytest.approx(arc, rel=0.05)


def test_spacetime_over_shapes(getkey):
    st = pd.SpaceTime(pd.Disk((0.0, 0.0), 1.0), 0.0, 2.0)
    assert st.faces == ("circle", "initial", "final") and st.dim == 3
    assert st.lower == (-1.0, -1.0, 0.0) and st.upper == (1.0, 1.0, 2.0)
    draw = jax.jit(
        pd.sampler(
            st,
            dtype=F64,
            pde=("interior", 500),
            bc=("boundary", 100),
            ic=("initial", 50),
            end=("final", 20),
        )
    )
    batch = draw(getkey())
    assert bool(jnp.all(pd.contains(st, jnp.concatenate(list(batch.values())))))
    np.testing.assert_allclose(jnp.linalg.norm(batch["bc"][:, :2], axis=1), 1.0)
    assert bool(jnp.all(batch["ic"][:, 2] == 0)) and bool(
        jnp.all(batch["end"][:, 2] == 2)
    )
    t = np.asarray(batch["pde"][:, 2])
    assert t.min() >= 0 and t.max() <= 2 and t.std() > 0.4
    np.testing.assert_allclose(pd.distance(st, batch["bc"]), 0, atol=1e-12)
    n = pd.normals(st, batch["bc"])
    np.testing.assert_allclose(n[:, :2], batch["bc"][:, :2], atol=1e-12)
    assert bool(jnp.all(n[:, 2] == 0))
    plate = pd.SpaceTime(_plate(), 0.0, 1.0)
    x = pd.sample_boundary(plate, 64, key=getkey(), face="circle", dtype=F64)
    assert x.shape == (64, 3)


def test_box_distance_and_normals():
    box = SHAPES["box"]
    corners = jnp.asarray(CORNERS["box"])
    assert float(jnp.max(jnp.abs(pd.distance(box, corners)))) == 0
    assert box.boundary_measure == 8.0 and pd.Interval(0, 1).boundary_measure == 2.0
    x = jnp.array([[1.0, 0.5], [0.5, 0.9], [0.0, 0.0], [-1.0, 0.0]])
    phi = pd.distance(box, x)
    assert bool(phi[0] > 0) and bool(phi[1] > 0) and phi[2] == 0 and bool(phi[3] < 0)
    np.testing.assert_allclose(
        pd.normals(box, jnp.array([[2.0, 0.0], [1.0, -1.0]])), [[1, 0], [0, -1]]
    )
    interval = pd.Interval(-1.0, 1.0)
    grad = jax.jit(jax.vmap(jax.grad(interval.distance)))(jnp.array([[-1.0], [1.0]]))
    np.testing.assert_allclose(grad, [[1.0], [-1.0]])


def test_r_functions():
    one, zero = jnp.array(1.0), jnp.array(0.0)
    assert (
        float(pd.r_conjunction(zero, one)) == 0
        and float(pd.r_disjunction(zero, -one)) == 0
    )
    g = jax.grad(pd.r_conjunction, argnums=(0, 1))(zero, jnp.array(2.0))
    assert (float(g[0]), float(g[1])) == (1.0, 0.0)
    h = jax.hessian(pd.r_disjunction, argnums=(0, 1))(zero, zero)
    assert all(bool(jnp.isfinite(v)) for row in h for v in row)


def test_float32_and_jit(getkey):
    shape = SHAPES["polygon"]
    x = jax.jit(
        lambda k: pd.sample_interior(
            shape, 1000, key=k, method="sobol", dtype=jnp.float32
        )
    )(getkey())
    assert x.dtype == jnp.float32
    assert bool(jnp.all(pd.contains(shape, x, atol=1e-6)))
    b = pd.sample_boundary(SHAPES["ellipse"], 100, key=getkey(), dtype=jnp.float32)
    assert float(jnp.max(jnp.abs(pd.distance(SHAPES["ellipse"], b)))) < 1e-5


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: pd.Disk((0.0, 0.0), 0.0), r"Disk\(radius=...\)"),
        (lambda: pd.Disk((0.0, float("nan")), 1.0), r"Disk\(centre=...\)"),
        (lambda: pd.Disk((0.0, 0.0, 0.0), 1.0), r"Disk\(centre=...\)"),
        (lambda: pd.Ellipse((0.0, 0.0), (1.0, -1.0)), r"Ellipse\(semi_axes=...\)"),
        (lambda: pd.Annulus((0.0, 0.0), 1.0, 0.5), r"Annulus\(inner=..., outer"),
        (lambda: pd.Annulus((0.0, 0.0), -1.0, 0.5), r"Annulus\(inner=...\)"),
        (lambda: pd.Polygon([(0, 0), (1, 0)]), r"Polygon\(vertices=...\).*at least 3"),
        (lambda: pd.Polygon([(0, 0), (1, 1), (2, 2)]), r"Polygon\(vertices=...\)"),
        (
            lambda: pd.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]),
            r"Polygon\(vertices=...\).*simple",
        ),
        (lambda: pd.Polygon([(0, 0), (1, 0), (1, 0), (0, 1)]), r"Polygon.*distinct"),
        (lambda: pd.Polygon([(0, 0), (1, float("inf")), (0, 1)]), r"Polygon.*finite"),
        (lambda: pd.Disk((0.0, 0.0), 1.0) | pd.Interval(0, 1), r"Union\(a=..., b="),
        (lambda: pd.Disk((0.0, 0.0), 1.0) - 3, r"Difference\(b=...\)"),
        (
            lambda: pd.Disk((0.0, 0.0), 1.0) & pd.Disk((5.0, 0.0), 1.0),
            r"Intersection\(a=..., b=...\).*overlap",
        ),
        (
            lambda: pd.SpaceTime(pd.SpaceTime(pd.Disk((0, 0), 1), 0, 1), 0, 1),
            r"SpaceTime\(space=...\)",
        ),
    ],
)
def test_bad_shapes(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_nearly_empty_set_operation_raises(getkey):
    # Only slivers of the corners remain: rejection sampling gives up and says why,
    # eagerly and compiled.
    corners = pd.Box((-1.0, -1.0), (1.0, 1.0)) - pd.Disk((0.0, 0.0), 1.41421)
    draw = lambda key: pd.sample_interior(corners, 100, key=key)  # noqa: E731
    for run in (draw, jax.jit(draw)):
        with pytest.raises(Exception, match="rejection sampling found too few points"):
            run(getkey())


def test_bad_calls(getkey):
    plate = _plate()
    with pytest.raises(ValueError, match=r"sample_interior\(method=...\).*grid"):
        pd.sample_interior(plate, 16, key=getkey(), method="grid")
    with pytest.raises(ValueError, match=r"sampler\(bc=...\).*grid"):
        pd.sampler(plate, bc=("boundary", 16, "grid"))
    with pytest.raises(ValueError, match=r"distance\(points=...\)"):
        pd.distance(SHAPES["disk"], jnp.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"normals\(points=...\)"):
        pd.normals(SHAPES["disk"], jnp.zeros((3, 1)))

    class Bare(pd.AbstractDomain):
        lower = (0.0,)
        upper = (1.0,)
        faces = ()

    with pytest.raises(ValueError, match=r"distance\(domain=...\).*def distance"):
        pd.distance(Bare(), jnp.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"normals\(domain=...\).*def normal"):
        pd.normals(Bare(), jnp.zeros((2, 1)))
