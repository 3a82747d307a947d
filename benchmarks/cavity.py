"""Lid-driven cavity at Re = 100 against the centreline table of Ghia, Ghia & Shin (1982).

Steady incompressible Navier–Stokes on [0, 1]^2 (`pinnlib.pdes.navier_stokes`,
viscosity 1/Re): no slip on three walls, the lid y = 1 moves with u = 1, and the
pressure has zero mean (`pinnlib.losses.mean_value`). A tanh MLP with outputs
(u, v, p) is trained on fixed Sobol points, first with Adam in float32, then with the
self-scaled Broyden quasi-Newton method in float64, until the time budget runs out.
The lid's velocity jumps at the two upper corners; the network meets it in the least-
squares sense, with more points on the lid than on the other walls and a weight of
10 on the boundary terms (`--wall-weight`).

Prints one JSON line: `max_abs_u` (max |u - u_Ghia| on the vertical centreline
x = 0.5, the 17 points of Ghia's Table I), `max_abs_v` (max |v - v_Ghia| on the
horizontal centreline y = 0.5, Table II), `wall_s` (process wall time, imports and
compilation included), steps, the extrema of both profiles with where they are
(`u_min`, `v_max`, `v_min`: [value, y or x]), and a trace of [step, seconds,
max_abs_u, max_abs_v].
With `--plot FILE.png` it draws both centreline profiles against the table.

    python benchmarks/cavity.py [--budget-s 480] [--plot cavity.png]
"""

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import pinnlib as pl  # noqa: E402

REYNOLDS = 100.0

# Ghia, Ghia & Shin (1982), J. Comput. Phys. 48:387-411, Re = 100.
# Table I: u on the vertical line through the centre, x = 0.5.
GHIA_Y = (1.0, 0.9766, 0.9688, 0.9609, 0.9531, 0.8516, 0.7344, 0.6172, 0.5,
          0.4531, 0.2813, 0.1719, 0.1016, 0.0703, 0.0625, 0.0547, 0.0)  # fmt: skip
GHIA_U = (1.0, 0.84123, 0.78871, 0.73722, 0.68717, 0.23151, 0.00332, -0.13641,
          -0.20581, -0.21090, -0.15662, -0.10150, -0.06434, -0.04775, -0.04192,
          -0.03717, 0.0)  # fmt: skip
# Table II: v on the horizontal line through the centre, y = 0.5.
GHIA_X = (1.0, 0.9688, 0.9609, 0.9531, 0.9453, 0.9063, 0.8594, 0.8047, 0.5,
          0.2344, 0.2266, 0.1563, 0.0938, 0.0781, 0.0703, 0.0625, 0.0)  # fmt: skip
GHIA_V = (0.0, -0.05906, -0.07391, -0.08864, -0.10313, -0.16914, -0.22445,
          -0.24533, 0.05454, 0.17527, 0.17507, 0.16077, 0.12317, 0.10890, 0.10091,
          0.09233, 0.0)  # fmt: skip


def lid(x):
    """The wall velocity: (1, 0) on the lid y = 1, (0, 0) on the other walls."""
    moving = (x[1] >= 1.0).astype(x.dtype)
    return jnp.stack([moving, jnp.zeros_like(moving)])


def centrelines(model):
    """Max |u - u_Ghia| at x = 0.5 and max |v - v_Ghia| at y = 0.5, and the values."""
    vertical = np.stack([np.full(17, 0.5), GHIA_Y], axis=1)
    horizontal = np.stack([GHIA_X, np.full(17, 0.5)], axis=1)
    u = np.asarray(pl.metrics.evaluate(model, jnp.asarray(vertical)))[:, 0]
    v = np.asarray(pl.metrics.evaluate(model, jnp.asarray(horizontal)))[:, 1]
    return (
        float(np.max(np.abs(u - np.asarray(GHIA_U)))),
        float(np.max(np.abs(v - np.asarray(GHIA_V)))),
    )


def extrema(model):
    """min u on x = 0.5, max and min v on y = 0.5, on 1001 points each."""
    s = np.linspace(0.0, 1.0, 1001)
    u = pl.metrics.evaluate(model, jnp.asarray(np.stack([np.full_like(s, 0.5), s], 1)))
    v = pl.metrics.evaluate(model, jnp.asarray(np.stack([s, np.full_like(s, 0.5)], 1)))
    u, v = np.asarray(u)[:, 0], np.asarray(v)[:, 1]
    return {
        "u_min": [float(u.min()), float(s[u.argmin()])],
        "v_max": [float(v.max()), float(s[v.argmax()])],
        "v_min": [float(v.min()), float(s[v.argmin()])],
    }


def problem(cli, dtype):
    domain = pl.domains.Box((0.0, 0.0), (1.0, 1.0))
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.navier_stokes),
        lid=pl.losses.dirichlet(lid, components=(0, 1)),
        walls=pl.losses.dirichlet(lid, components=(0, 1)),
        gauge=pl.losses.mean_value(0.0, components=(2,)),
    )
    draw = pl.domains.sampler(
        domain,
        method="sobol",
        dtype=dtype,
        pde=("interior", cli.interior),
        lid=("x1_upper", cli.lid),
        walls=("boundary", cli.walls),
    )
    model_key, point_key = jax.random.split(jax.random.key(cli.seed))
    batch = draw(point_key)
    batch["gauge"] = batch["pde"]
    field = pl.nn.mlp(
        2, width=cli.width, depth=cli.depth, out_size=3, key=model_key, dtype=dtype
    )
    return field, loss, batch, point_key


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-s", type=float, default=480.0)
    parser.add_argument("--adam-steps", type=int, default=5000)
    parser.add_argument("--width", type=int, default=40)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--interior", type=int, default=3000)
    parser.add_argument("--lid", type=int, default=200)
    parser.add_argument("--walls", type=int, default=400)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument(
        "--wall-weight", type=float, default=10.0, help="weight of the lid and walls"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="PNG of the centreline profiles")
    cli = parser.parse_args()

    field, loss, batch, key = problem(cli, jnp.float32)
    args = {"viscosity": 1.0 / REYNOLDS}
    start, trace = time.perf_counter(), []
    adam = pl.training(
        loss, optax.adam(optax.cosine_decay_schedule(1e-3, cli.adam_steps))
    )
    weights = {
        "pde": 1.0,
        "lid": cli.wall_weight,
        "walls": cli.wall_weight,
        "gauge": 1.0,
    }
    state = adam.init(field, key=key, weights=weights)
    result = pl.fit(adam, state, batch, cli.adam_steps, args=args, progress=False)
    trace.append(
        [int(result.state.step), round(time.perf_counter() - start, 1),
         *centrelines(result.state.model)]
    )  # fmt: skip

    quasi_newton = pl.training(
        loss, pl.optim.quasi_newton("ssbroyden"), reuse_value=True
    )
    state = quasi_newton.switch(result.state, dtype=jnp.float64)
    batch = jax.tree.map(lambda a: a.astype(jnp.float64), batch)
    while time.perf_counter() - start < cli.budget_s:
        result = pl.fit(
            quasi_newton, state, batch, cli.chunk, args=args, chunk_size=cli.chunk,
            progress=False,
        )  # fmt: skip
        state = result.state
        seconds = round(time.perf_counter() - start, 1)
        trace.append([int(state.step), seconds, *centrelines(state.model)])
    wall = time.perf_counter() - PROCESS_START
    max_u, max_v = centrelines(state.model)
    if cli.plot:
        _plot(state.model, cli.plot)
    print(
        json.dumps(
            {
                "max_abs_u": max_u,
                "max_abs_v": max_v,
                "wall_s": round(wall, 1),
                "steps": int(state.step),
                "final_loss": float(result.history["loss"][-1]),
                "wall_weight": cli.wall_weight,
                **extrema(state.model),
                "trace": [
                    [s, t, float(f"{u:.3e}"), float(f"{v:.3e}")] for s, t, u, v in trace
                ],
            }
        )
    )


def _plot(model, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = np.linspace(0.0, 1.0, 201)
    u = pl.metrics.evaluate(model, jnp.asarray(np.stack([np.full(201, 0.5), s], 1)))
    v = pl.metrics.evaluate(model, jnp.asarray(np.stack([s, np.full(201, 0.5)], 1)))
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
    left.plot(np.asarray(u)[:, 0], s, label="pinnlib")
    left.plot(GHIA_U, GHIA_Y, "o", label="Ghia et al. 1982")
    left.set(xlabel="u(0.5, y)", ylabel="y")
    right.plot(s, np.asarray(v)[:, 1], label="pinnlib")
    right.plot(GHIA_X, GHIA_V, "o", label="Ghia et al. 1982")
    right.set(xlabel="x", ylabel="v(x, 0.5)")
    left.legend()
    fig.suptitle("Lid-driven cavity, Re = 100")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
