"""Viscous Burgers 1-d with a PINN: Adam, then L-BFGS in float32 and float64.

    u_t + u u_x = nu u_xx,  x in [-1, 1], t in [0, 1],  nu = 0.01 / pi,
    u(x, 0) = -sin(pi x),   u(-1, t) = u(1, t) = 0.

Three compiled phases: Adam in float32 (fast, robust start), L-BFGS in float32 until
it stalls at float32's floor, then L-BFGS in float64 until it stalls again. Prints
the relative L2 error against the exact (Cole–Hopf) solution on the standard
256 x 100 grid and the wall time, and writes a PNG of prediction, reference and
error (and one of the loss history).

    python examples/burgers.py [--adam-steps N] [--lbfgs-steps N] [--out DIR]
"""

import argparse
import json
import time
from pathlib import Path

import jax

# float64 must be switched on before any array is made; the first two phases still
# run in float32 because the model and the points are created in float32.
jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import pinnlib as pl  # noqa: E402


def _lbfgs_phase(loss, state, points, max_steps, *, args, memory, chunk, tol, **kw):
    """L-BFGS on fixed points until `max_steps` or a chunk improves by < `tol`."""
    lbfgs = optax.lbfgs(memory_size=memory)
    dtype = points["pde"].dtype
    state = pl.switch_optimizer(state, lbfgs, dtype=dtype)

    @eqx.filter_jit
    def training_loss(model):
        return loss(model, points, state.weights, args)[0]

    return pl.fit(
        pl.make_step(loss, lbfgs, reuse_value=True),
        state,
        points,
        max_steps,
        args=args,
        chunk_size=chunk,
        validate=training_loss,
        patience=1,
        min_rel_improvement=tol,
        **kw,
    )


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
    lbfgs64_steps: int = 10_000,
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
    u = pl.nn.mlp(2, width=width, depth=depth, key=model_key, dtype=jnp.float32)
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers),
        bc=pl.losses.dirichlet(0.0),
        ic=pl.losses.initial(lambda p: -jnp.sin(jnp.pi * p[0])),
    )
    sampler = pl.domains.sampler(
        domain,
        method=method,
        dtype=jnp.float32,
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

    # Phases 2 and 3: L-BFGS (zoom line search) on fixed points, reusing the line
    # search's value and gradient; each stops once the loss improves by less than
    # `lbfgs_min_improvement` over a chunk, first in float32, then in float64 (the
    # same points, converted), which goes on well below float32's floor.
    points = pl.draw_batch(sampler, phase1.state, resample_every)
    lbfgs_kwargs = dict(
        args=args,
        memory=lbfgs_memory,
        chunk=lbfgs_chunk,
        tol=lbfgs_min_improvement,
        progress=progress,
    )
    phase2 = _lbfgs_phase(
        loss, phase1.state, points, lbfgs_steps, history=phase1.history, **lbfgs_kwargs
    )
    lbfgs32_s = time.perf_counter() - start - adam_s
    points64 = jax.tree.map(lambda p: p.astype(jnp.float64), points)
    phase3 = _lbfgs_phase(
        loss,
        phase2.state,
        points64,
        lbfgs64_steps,
        history=phase2.history,
        **lbfgs_kwargs,
    )
    model, history = phase3.state.model, phase3.history
    train_s = time.perf_counter() - start

    grid_points, reference = pl.reference.burgers_grid(nu=nu)
    prediction = np.asarray(pl.metrics.evaluate(model, grid_points))
    error = pl.metrics.relative_l2(prediction, reference)
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
        "lbfgs32_s": round(lbfgs32_s, 2),
        "lbfgs64_s": round(train_s - adam_s - lbfgs32_s, 2),
        "steps": int(phase3.state.step),
        "final_loss": float(history["loss"][-1]),
        "prediction": prediction.reshape(256, 100),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adam-steps", type=int, default=4000)
    parser.add_argument("--lbfgs-steps", type=int, default=10_000)
    parser.add_argument("--lbfgs64-steps", type=int, default=10_000)
    parser.add_argument("--out", default="out", help="folder for the PNGs")
    parser.add_argument("--no-progress", action="store_true")
    cli = parser.parse_args()
    result = main(
        adam_steps=cli.adam_steps,
        lbfgs_steps=cli.lbfgs_steps,
        lbfgs64_steps=cli.lbfgs64_steps,
        out=cli.out,
        progress=not cli.no_progress,
    )
    result.pop("prediction")
    print(
        f"relative L2 error vs Cole–Hopf: {result['rel_l2']:.3e} "
        f"({result['steps']} steps, {result['wall_s']:.1f} s); plots in {cli.out}/"
    )
    print(json.dumps(result))
