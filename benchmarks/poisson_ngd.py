"""Poisson in float64 with SSBroyden, Levenberg–Marquardt or Gauss–Newton, against Adam.

Solves -Δu = f on [0, 1]^2 with u = 0 on the boundary and f = 2π² sin(πx) sin(πy),
so u = sin(πx) sin(πy) (Müller & Zeinhofer, ICML 2023, section 4.1). A tanh MLP is
trained from its initialisation on fixed Sobol points by
`pinnlib.optim.quasi_newton("ssbroyden")` (default: dense self-scaled Broyden with a
strong-Wolfe line search), `pinnlib.optim.levenberg_marquardt` (`--optimizer lm`:
damping adapted from the ratio of actual to predicted decrease) or
`pinnlib.optim.gauss_newton` (`--optimizer gn`: fixed damping, grid line search) until
the time budget or the step count runs out; then Adam alone gets the same wall time,
for contrast.
Prints one JSON line: `rel_l2` and `wall_s` (process wall time up to the end of the
Gauss–Newton phase, imports and compilation included), the phase's steps, time and
error after every chunk (`trace`: step, seconds, error), and Adam's error.
With `--predict-out FILE.npy` it saves u[x, y], shape (101, 101), on
x = y = linspace(0, 1, 101); with `--plot FILE.png` it draws prediction, exact
solution and error side by side.

    python benchmarks/poisson_ngd.py [--predict-out u.npy] [--plot poisson.png]
"""

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import pinnlib as pl  # noqa: E402


def exact(x):
    return jnp.sin(jnp.pi * x[0]) * jnp.sin(jnp.pi * x[1])


def source(x):
    return 2 * jnp.pi**2 * exact(x)


def problem(*, width, depth, interior, boundary, seed):
    domain = pl.domains.Box((0.0, 0.0), (1.0, 1.0))
    loss = pl.losses.combine(
        pde=pl.losses.residual(lambda u: pl.pdes.poisson(u, source=source)),
        bc=pl.losses.dirichlet(0.0),
    )
    draw = pl.domains.sampler(
        domain,
        method="sobol",
        dtype=jnp.float64,
        pde=("interior", interior),
        bc=("boundary", boundary),
    )
    keys = jax.random.split(jax.random.key(seed))
    u = pl.nn.mlp(2, width=width, depth=depth, key=keys[0], dtype=jnp.float64)
    return u, loss, draw(keys[1]), keys[1]


def grid():
    x = np.linspace(0.0, 1.0, 101)
    X, Y = np.meshgrid(x, x, indexing="ij")
    points = jnp.asarray(np.stack([X.ravel(), Y.ravel()], axis=1))
    return points, jax.vmap(exact)(points)


def timed_fit(step, state, batch, budget_s, max_steps, chunk, error=None):
    """`fit` in chunks until `max_steps` or the wall-time budget (compile included).

    With `error(model)`, records `[step, seconds, error]` after every chunk.
    """
    start, history, trace = time.perf_counter(), None, []
    while int(state.step) < max_steps and time.perf_counter() - start < budget_s:
        n = min(chunk, max_steps - int(state.step))
        result = pl.fit(step, state, batch, n, chunk_size=chunk, progress=False)
        state, history = result.state, result.history
        if error is not None:
            seconds = round(time.perf_counter() - start, 1)
            trace.append([int(state.step), seconds, float(f"{error(state.model):.3e}")])
    return state, time.perf_counter() - start, history, trace


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predict-out", default=None)
    parser.add_argument("--plot", default=None, help="PNG of prediction and error")
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--interior", type=int, default=2500)
    parser.add_argument("--boundary", type=int, default=200)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--budget-s", type=float, default=240.0)
    parser.add_argument(
        "--optimizer", choices=("ssbroyden", "lm", "gn"), default="ssbroyden"
    )
    parser.add_argument(
        "--damping", type=float, default=None, help="initial (lm) or fixed (gn)"
    )
    parser.add_argument("--chunk", type=int, default=None, help="steps per chunk")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--adam-lr", type=float, default=1e-3)
    cli = parser.parse_args()
    u, loss, batch, key = problem(
        width=cli.width,
        depth=cli.depth,
        interior=cli.interior,
        boundary=cli.boundary,
        seed=cli.seed,
    )
    points, reference = grid()

    if cli.optimizer == "ssbroyden":
        opt, chunk = pl.optim.quasi_newton("ssbroyden"), cli.chunk or 1000
    elif cli.optimizer == "lm":
        opt = pl.optim.levenberg_marquardt(damping=cli.damping or 1e-3)
        chunk = cli.chunk or 100
    else:
        opt, chunk = (
            pl.optim.gauss_newton(damping=cli.damping or 1e-10),
            cli.chunk or 100,
        )
    # SSBroyden reuses the line search's value and gradient at the accepted point.
    training = pl.training(loss, opt, reuse_value=cli.optimizer == "ssbroyden")
    state = training.init(u, key=key)
    state, gn_s, history, trace = timed_fit(
        training,
        state,
        batch,
        cli.budget_s,
        cli.steps,
        chunk,
        error=lambda model: pl.metrics.rel_l2(model, points, reference),
    )
    rel = pl.metrics.rel_l2(state.model, points, reference)
    prediction = np.asarray(pl.metrics.evaluate(state.model, points)).reshape(101, 101)
    if cli.predict_out:
        np.save(cli.predict_out, prediction)
    if cli.plot:
        axis = np.linspace(0.0, 1.0, 101)
        pl.plot.solution(
            axis,
            axis,
            prediction,
            np.asarray(reference).reshape(101, 101),
            cli.plot,
            title=f"Poisson, {cli.optimizer} (float64)",
            labels=("x", "y"),
        )
    wall = time.perf_counter() - PROCESS_START

    adam = optax.adam(cli.adam_lr)
    adam_state = pl.init_state(u, adam, loss, key=key)
    adam_state, adam_s, _, _ = timed_fit(
        pl.make_step(loss, adam), adam_state, batch, gn_s, 10**9, 1000
    )
    print(
        json.dumps(
            {
                "rel_l2": rel,
                "wall_s": round(wall, 2),
                "optimizer": cli.optimizer,
                "steps": int(state.step),
                "train_s": round(gn_s, 2),
                "final_loss": float(history["loss"][-1]),
                "trace": trace,
                "adam_rel_l2": pl.metrics.rel_l2(adam_state.model, points, reference),
                "adam_steps": int(adam_state.step),
                "adam_s": round(adam_s, 2),
                "params": sum(
                    x.size for x in jax.tree.leaves(eqx.filter(u, eqx.is_array))
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
