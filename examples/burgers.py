"""Viscous Burgers 1-d with a PINN: Adam in float32, then SSBroyden in float64.

    u_t + u u_x = nu u_xx,  x in [-1, 1], t in [0, 1],  nu = 0.01 / pi,
    u(x, 0) = -sin(pi x),   u(-1, t) = u(1, t) = 0.

Two compiled phases: Adam in float32 (a fast, robust start), then the self-scaled
Broyden quasi-Newton method (`pl.optim.quasi_newton("ssbroyden")`: a dense inverse
Hessian, a strong-Wolfe line search, one loss-and-gradient evaluation per accepted
step) in float64 — the optimizer that moved the PINN accuracy frontier (Urbán,
Stefanou & Pons 2025; Kiyani et al. 2025). Prints the relative L2 error against the
exact (Cole–Hopf) solution on the standard 256 x 100 grid and the wall time, and
writes a PNG of prediction, reference and error (and one of the loss history).

    python examples/burgers.py [--adam-steps N] [--qn-steps N] [--steps N]
                               [--checkpoint-dir DIR [--resume]] [--json] [--out DIR]

With --checkpoint-dir the whole training state is saved every --checkpoint-every
steps and at the end of each phase; a run killed at any moment continues with
--resume from the latest checkpoint and ends exactly as an uninterrupted run would.
"""

import argparse
import json
import time
from pathlib import Path

import jax

# float64 must be switched on before any array is made; the Adam phase still runs
# in float32 because the model and its points are created in float32.
jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import pinnlib as pl  # noqa: E402


def _resume_point(checkpoint_dir, templates):
    """The latest checkpoint and its phase, or None."""
    latest = pl.checkpoint.latest(checkpoint_dir)
    if latest is None:
        return None
    phase = pl.checkpoint.read_info(latest)["metadata"]["phase"]
    return pl.checkpoint.load(latest, templates[phase]), phase


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
    qn: str = "ssbroyden",
    qn_steps: int = 14_000,
    qn_resample_every: int | None = None,
    qn_chunk: int = 500,
    steps: int | None = None,
    checkpoint_dir: str | None = None,
    checkpoint_every: int = 1000,
    resume: bool = False,
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

    def sampler(dtype):
        return pl.domains.sampler(
            domain,
            method=method,
            dtype=dtype,
            pde=("interior", interior),
            bc=("boundary", boundary),
            ic=("initial", initial),
        )

    args = {"nu": nu}
    adam = pl.training(loss, optax.adam(adam_lr))
    # reuse_value: each step takes the loss and gradient that the line search of
    # the step before computed at the point it accepted.
    quasi_newton = pl.training(loss, pl.optim.quasi_newton(qn), reuse_value=True)
    # Per phase: (training, dtype, points or sampler, resample_every, chunk, steps).
    state = adam.init(u, key=state_key)
    points64 = pl.draw_batch(sampler(jnp.float64), state, None)  # from the key alone
    phases = [
        (adam, jnp.float32, sampler(jnp.float32), resample_every, 1000, adam_steps),
        (
            quasi_newton,
            jnp.float64,
            points64 if qn_resample_every is None else sampler(jnp.float64),
            qn_resample_every,
            qn_chunk,
            qn_steps,
        ),
    ]
    total = adam_steps + qn_steps if steps is None else steps

    # A phase's state at its start; the same structure serves as the template for
    # loading a checkpoint of the phase.
    def start_phase(index, state):
        training, dtype, *_ = phases[index]
        return training.switch(state, dtype=dtype)

    # `resumed`: the checkpoint the current phase continues (None: a fresh phase).
    phase, phase_start, history, resumed = 0, 0, None, None
    if resume and checkpoint_dir is not None:
        templates = [start_phase(i, state) for i in range(len(phases))]
        found = _resume_point(checkpoint_dir, templates)
        if found is not None:
            resumed, phase = found
            state, meta = resumed.state, resumed.metadata
            phase_start = meta["phase_start"]
            if int(state.step) - phase_start >= phases[phase][-1]:
                phase, phase_start = phase + 1, int(state.step)
                history, resumed = resumed.history, None
                if phase < len(phases):
                    state = start_phase(phase, state)
    seconds = [0.0] * len(phases)
    while phase < len(phases) and int(state.step) < total:
        began = time.perf_counter()
        training, _, batch, every, chunk, limit = phases[phase]
        num = min(limit - (int(state.step) - phase_start), total - int(state.step))
        if num > 0:
            result = pl.fit(
                training,
                state,
                batch,
                num,
                args=args,
                resample_every=every,
                chunk_size=chunk,
                progress=progress,
                history=history,
                resume=resumed,
                checkpoints=None
                if checkpoint_dir is None
                else pl.Checkpoints(
                    checkpoint_dir,
                    every=checkpoint_every,
                    metadata={"phase": phase, "phase_start": phase_start},
                ),
            )
            state, history = result.state, result.history
        seconds[phase] = time.perf_counter() - began
        phase, phase_start, resumed = phase + 1, int(state.step), None
        if phase < len(phases) and int(state.step) < total:
            state = start_phase(phase, state)
    model = state.model
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
        "adam_s": round(seconds[0], 2),
        "qn_s": round(seconds[1], 2),
        "steps": int(state.step),
        "final_loss": float(history["loss"][-1]),
        "prediction": prediction.reshape(256, 100),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adam-steps", type=int, default=4000)
    parser.add_argument("--qn-steps", type=int, default=14_000)
    parser.add_argument(
        "--steps", type=int, default=None, help="stop after this many steps in all"
    )
    parser.add_argument("--checkpoint-dir", default=None, help="write checkpoints here")
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    parser.add_argument(
        "--resume", action="store_true", help="continue from --checkpoint-dir's latest"
    )
    parser.add_argument("--out", default="out", help="folder for the PNGs")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--json", action="store_true", help="end with one JSON line of the figures"
    )
    cli = parser.parse_args()
    if cli.resume and cli.checkpoint_dir is None:
        parser.error("--resume needs --checkpoint-dir")
    result = main(
        adam_steps=cli.adam_steps,
        qn_steps=cli.qn_steps,
        steps=cli.steps,
        checkpoint_dir=cli.checkpoint_dir,
        checkpoint_every=cli.checkpoint_every,
        resume=cli.resume,
        out=cli.out,
        progress=not cli.no_progress,
    )
    result.pop("prediction")
    print(
        f"relative L2 error vs Cole–Hopf: {result['rel_l2']:.3e} "
        f"({result['steps']} steps, {result['wall_s']:.1f} s); plots in {cli.out}/"
    )
    if cli.json:
        print(json.dumps(result))
