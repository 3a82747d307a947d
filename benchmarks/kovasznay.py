"""Kovasznay flow (steady Navier–Stokes, Re = 20) to high accuracy in float64.

On [-0.5, 1] x [-0.5, 1.5] with lambda = Re/2 - sqrt(Re^2/4 + 4 pi^2) the exact flow
is u = 1 - e^(lambda x) cos 2 pi y, v = lambda/(2 pi) e^(lambda x) sin 2 pi y,
p = (1 - e^(2 lambda x))/2 (Kovasznay 1948). A tanh MLP with outputs (u, v, p) is
trained on fixed Sobol points with `pinnlib.pdes.navier_stokes` (viscosity 1/Re), the
velocity prescribed on the walls (`pinnlib.losses.dirichlet(..., components=(0, 1))`)
and the zero-mean pressure gauge (`pinnlib.losses.mean_value`), by the self-scaled
Broyden quasi-Newton method in float64 from the initialisation, until the time
budget runs out.

Prints one JSON line: `rel_l2` (velocity, relative L2 on the output grid), the
pressure's relative L2 after removing its mean, `wall_s` (process wall time to the
end of training, imports and compilation included), steps and a trace of
[step, seconds, velocity error] after every chunk.
With `--predict-out FILE.npy` it saves (u, v, p) on x = linspace(-0.5, 1, 61),
y = linspace(-0.5, 1.5, 81) as an array of shape (3, 61, 81) (index [k, i, j] at
(x_i, y_j)), the pressure with its mean over the grid removed.

    python benchmarks/kovasznay.py [--predict-out flow.npy] [--budget-s 480]
"""

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import pinnlib as pl  # noqa: E402

REYNOLDS = 20.0
LAMBDA = float(REYNOLDS / 2 - np.sqrt(REYNOLDS**2 / 4 + 4 * np.pi**2))


def exact(x):
    """Kovasznay's (u, v, p) at a point (x, y)."""
    e = jnp.exp(LAMBDA * x[0])
    u = 1 - e * jnp.cos(2 * jnp.pi * x[1])
    v = LAMBDA / (2 * jnp.pi) * e * jnp.sin(2 * jnp.pi * x[1])
    return jnp.stack([u, v, 0.5 * (1 - e**2)])


def output_grid():
    """The (61 * 81, 2) points of the output grid, x-major (index [i, j])."""
    x, y = np.linspace(-0.5, 1.0, 61), np.linspace(-0.5, 1.5, 81)
    X, Y = np.meshgrid(x, y, indexing="ij")
    return jnp.asarray(np.stack([X.ravel(), Y.ravel()], axis=1))


def predict(model, points):
    """(3, 61, 81): u, v and the pressure with its grid mean removed."""
    w = np.array(pl.metrics.evaluate(model, points)).T.reshape(3, 61, 81)
    w[2] -= w[2].mean()
    return w


def errors(flow, reference):
    """Relative L2 of the velocity, and of the pressure (both with mean removed)."""
    velocity = np.linalg.norm(flow[:2] - reference[:2]) / np.linalg.norm(reference[:2])
    pressure = np.linalg.norm(flow[2] - reference[2]) / np.linalg.norm(reference[2])
    return float(velocity), float(pressure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predict-out", default=None)
    parser.add_argument("--budget-s", type=float, default=480.0)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--interior", type=int, default=2000)
    parser.add_argument("--boundary", type=int, default=400)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    cli = parser.parse_args()

    domain = pl.domains.Box((-0.5, -0.5), (1.0, 1.5))
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.navier_stokes),
        wall=pl.losses.dirichlet(lambda x: exact(x)[:2], components=(0, 1)),
        gauge=pl.losses.mean_value(0.0, components=(2,)),
    )
    draw = pl.domains.sampler(
        domain,
        method="sobol",
        dtype=jnp.float64,
        pde=("interior", cli.interior),
        wall=("boundary", cli.boundary),
    )
    model_key, point_key = jax.random.split(jax.random.key(cli.seed))
    batch = draw(point_key)
    batch["gauge"] = batch["pde"]
    field = pl.nn.mlp(
        2,
        width=cli.width,
        depth=cli.depth,
        out_size=3,
        key=model_key,
        dtype=jnp.float64,
    )

    points = output_grid()
    reference = predict(exact, points)
    training = pl.training(loss, pl.optim.quasi_newton("ssbroyden"), reuse_value=True)
    state = training.init(field, key=point_key)
    args = {"viscosity": 1.0 / REYNOLDS}
    start, trace = time.perf_counter(), []
    while time.perf_counter() - start < cli.budget_s:
        result = pl.fit(
            training,
            state,
            batch,
            cli.chunk,
            args=args,
            chunk_size=cli.chunk,
            progress=False,
        )
        state = result.state
        velocity, _ = errors(predict(state.model, points), reference)
        trace.append([int(state.step), round(time.perf_counter() - start, 1), velocity])
    wall = time.perf_counter() - PROCESS_START
    flow = predict(state.model, points)
    if cli.predict_out:
        np.save(cli.predict_out, flow)
    velocity, pressure = errors(flow, reference)
    print(
        json.dumps(
            {
                "rel_l2": velocity,
                "pressure_rel_l2": pressure,
                "wall_s": round(wall, 1),
                "steps": int(state.step),
                "final_loss": float(result.history["loss"][-1]),
                "interior": cli.interior,
                "boundary": cli.boundary,
                "width": cli.width,
                "depth": cli.depth,
                "trace": [[s, t, float(f"{e:.3e}")] for s, t, e in trace],
            }
        )
    )


if __name__ == "__main__":
    main()
