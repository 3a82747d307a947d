"""Viscous Burgers 1-d with a PINN: Adam, then L-BFGS; error against Cole–Hopf.

    u_t + u u_x = nu u_xx,  x in [-1, 1], t in [0, 1],  nu = 0.01 / pi,
    u(x, 0) = -sin(pi x),   u(-1, t) = u(1, t) = 0.

Trains, prints the relative L2 error against the exact (Cole–Hopf) solution on the
standard 256 x 100 grid and the wall time, and writes a PNG of prediction,
reference and error (and one of the loss history).

    python examples/burgers.py [--adam-steps N] [--lbfgs-steps N] [--out DIR]
"""

import argparse
import json
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import pinnlib as pl


def main(
    *,
    nu: float = 0.01 / np.pi,
    width: int = 32,
    depth: int = 4,
    interior: int = 8000,
    boundary: int = 200,
    initial: int = 400,
    method: str = "sobol",
    adam_steps: int = 4000,
    adam_lr: float = 1e-3,
    resample_every: int | None = None,
    lbfgs_steps: int = 10_000,
    lbfgs_memory: int = 50,
    lbfgs_chunk: int = 250,
    lbfgs_min_improvement: float = 0.01,
    seed: int = 0,
    out: str | None = "out",
    progress: bool = True,
) -> dict:
    """Train and evaluate; return the figures as a dict (and write plots to `out`)."""
    start = time.perf_counter()
    model_key, state_key = jax.random.split(jax.random.key(seed))
    domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 1.0)
    u = pl.nn.mlp(2, width=width, depth=depth, key=model_key)
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers),
        bc=pl.losses.dirichlet(0.0),
        ic=pl.losses.initial(lambda p: -jnp.sin(jnp.pi * p[0])),
    )
    sampler = pl.domains.sampler(
        domain,
        method=method,
        pde=("interior", interior),
        bc=("boundary", boundary),
        ic=("initial", initial),
    )
    args = {"nu": nu}

    # Phase 1: Adam, optionally redrawing the collocation points.
    adam = optax.adam(adam_lr)
    state = pl.init_state(u, adam, loss, key=state_key)
    fit_kwargs = dict(args=args, progress=progress)
    phase1 = pl.fit(
        pl.make_step(loss, adam),
        state,
        sampler,
        adam_steps,
        resample_every=resample_every,
        **fit_kwargs,
    )

    adam_s = time.perf_counter() - start

    # Phase 2: L-BFGS (zoom line search) on a fixed set of points, reusing the line
    # search's value and gradient; stop once the loss improves by less than
    # `lbfgs_min_improvement` over a chunk (L-BFGS stalls at the float32 floor).
    lbfgs = optax.lbfgs(memory_size=lbfgs_memory)
    state = pl.switch_optimizer(phase1.state, lbfgs)
    points = pl.draw_batch(sampler, state, resample_every)

    @eqx.filter_jit
    def training_loss(model, points, weights, args):
        return loss(model, points, weights, args)[0]

    lbfgs_step = pl.make_step(loss, lbfgs, reuse_value=True)
    phase2 = pl.fit(
        lbfgs_step,
        state,
        points,
        lbfgs_steps,
        chunk_size=lbfgs_chunk,
        validate=lambda model: training_loss(model, points, state.weights, args),
        patience=1,
        min_rel_improvement=lbfgs_min_improvement,
        **fit_kwargs,
    )
    model = phase2.state.model
    train_s = time.perf_counter() - start

    grid_points, reference = pl.reference.burgers_grid(nu=nu)
    prediction = np.asarray(pl.metrics.evaluate(model, grid_points))
    error = pl.metrics.relative_l2(prediction, reference)
    history = {
        k: np.concatenate([phase1.history[k], phase2.history[k]])
        for k in phase1.history
    }
    if out is not None:
        out_dir = Path(out)
        out_dir.mkdir(parents=True, exist_ok=True)
        x, t = (
            np.unique(np.asarray(grid_points[:, 0])),
            np.unique(np.asarray(grid_points[:, 1])),
        )
        pl.plot.solution(
            x,
            t,
            prediction.reshape(x.size, t.size),
            reference.reshape(x.size, t.size),
            out_dir / "burgers.png",
            title="Burgers, PINN vs Cole–Hopf",
        )
        pl.plot.loss_history(history, out_dir / "burgers_loss.png")
    return {
        "problem": "burgers",
        "rel_l2": error,
        "wall_s": round(time.perf_counter() - start, 2),
        "train_s": round(train_s, 2),
        "adam_s": round(adam_s, 2),
        "lbfgs_s": round(train_s - adam_s, 2),
        "steps": int(phase2.state.step),
        "final_loss": float(history["loss"][-1]),
        "prediction": prediction.reshape(256, 100),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adam-steps", type=int, default=4000)
    parser.add_argument("--lbfgs-steps", type=int, default=10_000)
    parser.add_argument("--out", default="out", help="folder for the PNGs")
    parser.add_argument("--no-progress", action="store_true")
    cli = parser.parse_args()
    result = main(
        adam_steps=cli.adam_steps,
        lbfgs_steps=cli.lbfgs_steps,
        out=cli.out,
        progress=not cli.no_progress,
    )
    result.pop("prediction")
    print(
        f"relative L2 error vs Cole–Hopf: {result['rel_l2']:.3e} "
        f"({result['steps']} steps, {result['wall_s']:.1f} s); plots in {cli.out}/"
    )
    print(json.dumps(result))
