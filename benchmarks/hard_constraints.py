"""Hard against soft boundary conditions on a disk with an off-centre hole, equal time.

Poisson -Δu = f on Ω = D((0, 0), 1) minus D((0.3, 0.2), 0.3) (a set difference of two
`pinnlib.domains.Disk`), with u = 0 on both circles and the manufactured solution

    u(x) = (1 - |x|^2) (|x - c|^2 - r^2) (1 + x_0 sin 2 x_1),   c = (0.3, 0.2), r = 0.3,

f = -Δu by automatic differentiation. Two fields from the same initialisation and the
same Sobol points, each trained for the same wall time by the self-scaled Broyden
quasi-Newton method in float64:

- hard: `pinnlib.nn.ExactDirichlet(net, domain)`, u = φ N with φ the R-function
  distance of Ω (Sukumar & Srivastava 2022); the loss is the residual alone;
- soft: u = N, with a Dirichlet term on boundary points of both circles.

Prints one JSON line with both relative L2 errors on 20 000 fresh points of Ω
(`hard_rel_l2`, `soft_rel_l2`), the boundary error of each (max |u| on 2 000 fresh
boundary points), the steps each took in its `budget_s`, and `wall_s`.

    python benchmarks/hard_constraints.py [--budget-s 120]
"""

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

import pinnlib as pl  # noqa: E402

CENTRE, RADIUS = jnp.array([0.3, 0.2]), 0.3
DOMAIN = pl.domains.Disk((0.0, 0.0), 1.0) - pl.domains.Disk((0.3, 0.2), 0.3)


def exact(x):
    hole = jnp.sum((x - CENTRE.astype(x.dtype)) ** 2) - RADIUS**2
    return (1 - x @ x) * hole * (1 + x[0] * jnp.sin(2 * x[1]))


def source(x):
    return -pl.diff.laplacian(exact)(x)


def train(field, loss, batch, budget_s, chunk):
    """SSBroyden in chunks until the budget (compilation included); (model, steps)."""
    training = pl.training(loss, pl.optim.quasi_newton("ssbroyden"), reuse_value=True)
    state = training.init(field, key=jax.random.key(0))
    start = time.perf_counter()
    while time.perf_counter() - start < budget_s:
        state = pl.fit(training, state, batch, chunk, progress=False).state
    return state.model, int(state.step), time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-s", type=float, default=120.0)
    parser.add_argument("--width", type=int, default=24)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--interior", type=int, default=1500)
    parser.add_argument("--boundary", type=int, default=300)
    parser.add_argument("--chunk", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    cli = parser.parse_args()

    keys = jax.random.split(jax.random.key(cli.seed), 4)
    draw = pl.domains.sampler(
        DOMAIN,
        method="sobol",
        dtype=jnp.float64,
        pde=("interior", cli.interior),
        bc=("boundary", cli.boundary),
    )
    batch = draw(keys[0])
    net = pl.nn.mlp(2, width=cli.width, depth=cli.depth, key=keys[1], dtype=jnp.float64)
    pde = pl.losses.residual(lambda u: pl.pdes.poisson(u, source=source))

    test = pl.domains.sample_interior(DOMAIN, 20_000, key=keys[2], dtype=jnp.float64)
    edge = pl.domains.sample_boundary(DOMAIN, 2_000, key=keys[3], dtype=jnp.float64)
    reference = jax.vmap(exact)(test)

    results = {}
    for name, field, loss, points in (
        (
            "hard",
            pl.nn.ExactDirichlet(net, DOMAIN),
            pl.losses.combine(pde=pde),
            {"pde": batch["pde"]},
        ),
        ("soft", net, pl.losses.combine(pde=pde, bc=pl.losses.dirichlet(0.0)), batch),
    ):
        model, steps, seconds = train(field, loss, points, cli.budget_s, cli.chunk)
        results[f"{name}_rel_l2"] = pl.metrics.rel_l2(model, test, reference)
        results[f"{name}_boundary_max_abs"] = float(
            jnp.max(jnp.abs(pl.metrics.evaluate(model, edge)))
        )
        results[f"{name}_steps"] = steps
        results[f"{name}_train_s"] = round(seconds, 1)
    results["budget_s"] = cli.budget_s
    results["wall_s"] = round(time.perf_counter() - PROCESS_START, 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
