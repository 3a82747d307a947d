"""Mixed precision against float32: the training step's speed and the error it reaches.

`pl.nn.mixed_precision(model)` multiplies every linear layer's operands in bfloat16
and sums the products in float32; parameters, gradients and Adam stay float32. This
script measures what that buys and what it costs, on the viscous Burgers PINN
(u_t + u u_x = nu u_xx, u(x, 0) = -sin(pi x), u(+-1, t) = 0; nu = 0.01/pi for
the speed):

- **Speed**, two set-ups, each as one compiled `pl.run` of `--steps` Adam (1e-3)
  steps on a fixed batch, float32 against mixed precision from the same weights and
  points:
  - `burgers-speed`: the set-up of `burgers_speed.py` exactly (MLP 2-32-32-32-1 tanh,
    the weights of `init_weights(0)`, the 2540/80/160 points of `make_points(0)`);
  - `wide`: MLP 2-W-W-W-W-1 tanh (`--wide-width`, default 256) on `--wide-points`
    interior points (default 16384) and 512 boundary and 512 initial points, drawn
    once by `pl.domains.sampler` — products large enough for matrix units to matter.

  Each run is compiled by one call; then the two are timed alternately `--repeats`
  times (`jax.block_until_ready`) and the medians compared in the same process:
  `speed_ratio` = mixed time / float32 time (below 1: mixed precision is faster).
- **Accuracy**, on a smoother Burgers problem (`--nu`, default 0.05/pi, so that
  Adam alone gets below 1e-2 and bfloat16's three digits can show), the points and
  weights of `burgers-speed`, `--train-steps` N Adam steps with the learning rate
  1e-3 halved every N/4 (`optax.exponential_decay`), three ways:
  - `float32`: all N steps in float32;
  - `mixed`: all N steps in mixed precision; also reported with its float32 master
    weights multiplied in float32 (`mixed_weights_in_float32`,
    `pl.nn.full_precision`);
  - `mixed_then_float32`: the recipe of the docs, 0.8 N steps in mixed precision
    then 0.2 N in float32 (`pl.nn.full_precision`, a fresh Adam with the same
    schedule over its own steps): the same number of steps as the others.

  Each is scored by the relative L2 error against the Cole–Hopf solution on the
  standard 256 x 100 grid (`pl.reference.burgers_grid`): `rel_l2`.

On a CPU, bfloat16 products are emulated and slower than float32; the speed figures
mean something on GPUs and TPUs with bfloat16 units (`devices` in the JSON says
where it ran). The last line printed is one JSON object.

    python benchmarks/mixed_precision.py --steps 500 --train-steps 20000
"""

import argparse
import json
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _burgers_setup import NU, init_weights, make_points
from burgers_speed import burgers_loss, pinnlib_model

import pinnlib as pl


def setups(width: int, points: int) -> dict:
    """`{name: (float32 model, fixed batch)}`."""
    speed = (
        pinnlib_model(init_weights(0)),
        {k: jnp.asarray(v) for k, v in make_points(0).items()},
    )
    domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 1.0)
    draw = pl.domains.sampler(
        domain,
        pde=("interior", points),
        bc=("boundary", 512),
        ic=("initial", 512),
    )
    wide = (
        pl.nn.mlp(2, width=width, depth=4, key=jax.random.key(0)),
        draw(jax.random.key(1)),
    )
    return {"burgers-speed": speed, "wide": wide}


def runner(training, batch, steps):
    """`model -> final loss` after `steps` steps, one compiled program per model type."""

    def go(model):
        state = training.init(model, key=jax.random.key(0))
        out = pl.run(training, state, batch, steps, args={"nu": NU})
        return out.metrics["loss"][-1]

    return go


def timed(fn, model) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn(model))
    return time.perf_counter() - start


def speed(name, model, batch, steps, repeats) -> dict:
    training = pl.training(burgers_loss(), optax.adam(1e-3))
    go = runner(training, batch, steps)
    models = {"float32": model, "mixed": pl.nn.mixed_precision(model)}
    compile_s = {k: timed(go, m) for k, m in models.items()}
    times = {k: [] for k in models}
    for _ in range(repeats):
        for k, m in models.items():
            times[k].append(timed(go, m))
    median = {k: statistics.median(t) for k, t in times.items()}
    return {
        "setup": name,
        "points": int(sum(x.shape[0] for x in batch.values())),
        "steps": steps,
        "float32_steps_per_s": round(steps / median["float32"], 2),
        "mixed_steps_per_s": round(steps / median["mixed"], 2),
        "speed_ratio": round(median["mixed"] / median["float32"], 3),
        "compile_s": {k: round(v - median[k], 2) for k, v in compile_s.items()},
    }


def accuracy(model, batch, steps, nu) -> dict:
    grid, exact = pl.reference.burgers_grid(nu=nu, dtype=jnp.float32)
    exact = np.asarray(exact)

    def error(u):
        found = np.asarray(jax.jit(jax.vmap(u))(grid), np.float64)
        return float(np.linalg.norm(found - exact) / np.linalg.norm(exact))

    def train(start, num_steps):
        schedule = optax.exponential_decay(1e-3, max(num_steps // 4, 1), 0.5)
        training = pl.training(burgers_loss(), optax.adam(schedule))
        state = training.init(start, key=jax.random.key(0))
        run = pl.run(training, state, batch, num_steps, args={"nu": nu})
        return jax.block_until_ready(run.state.model), float(run.metrics["loss"][-1])

    rel_l2, final_loss, train_s = {}, {}, {}
    begin = time.perf_counter()
    trained, final_loss["float32"] = train(model, steps)
    rel_l2["float32"] = error(trained)
    train_s["float32"] = time.perf_counter() - begin

    begin = time.perf_counter()
    trained, final_loss["mixed"] = train(pl.nn.mixed_precision(model), steps)
    rel_l2["mixed"] = error(trained)
    train_s["mixed"] = time.perf_counter() - begin
    rel_l2["mixed_weights_in_float32"] = error(pl.nn.full_precision(trained))

    begin = time.perf_counter()
    early = (steps * 4) // 5
    trained, _ = train(pl.nn.mixed_precision(model), early)
    trained, final_loss["mixed_then_float32"] = train(
        pl.nn.full_precision(trained), steps - early
    )
    rel_l2["mixed_then_float32"] = error(trained)
    train_s["mixed_then_float32"] = time.perf_counter() - begin
    return {
        "nu": nu,
        "train_steps": steps,
        "rel_l2": rel_l2,
        "final_loss": final_loss,
        "train_s": {k: round(v, 1) for k, v in train_s.items()},
    }


def table(rows) -> str:
    lines = [
        "| set-up | points | float32 steps/s | mixed steps/s | mixed / float32 time |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['setup']} | {r['points']} | {r['float32_steps_per_s']} | "
            f"{r['mixed_steps_per_s']} | {r['speed_ratio']} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--wide-steps", type=int, default=None,
                        help="steps of the wide set-up (default: --steps)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=20_000)
    parser.add_argument("--nu", type=float, default=0.05 / np.pi)
    parser.add_argument("--wide-width", type=int, default=256)
    parser.add_argument("--wide-points", type=int, default=16_384)
    args = parser.parse_args()
    start = time.perf_counter()

    rows = []
    for name, (model, batch) in setups(args.wide_width, args.wide_points).items():
        steps = args.steps if name != "wide" else (args.wide_steps or args.steps)
        rows.append(speed(name, model, batch, steps, args.repeats))
        print(json.dumps(rows[-1]), flush=True)
    print(table(rows))
    model, batch = setups(args.wide_width, args.wide_points)["burgers-speed"]
    found = accuracy(model, batch, args.train_steps, args.nu)
    print(
        json.dumps(
            {
                "speed": rows,
                "accuracy": found,
                "devices": [d.device_kind for d in jax.devices()][:1],
                "platform": jax.default_backend(),
                "wall_s": round(time.perf_counter() - start, 1),
                "versions": {
                    "python": platform.python_version(),
                    "jax": jax.__version__,
                    "pinnlib": pl.__version__,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
