"""Viscous Burgers 1-d with a PINN: Adam, then L-BFGS in float32 and float64.

    u_t + u u_x = nu u_xx,  x in [-1, 1], t in [0, 1],  nu = 0.01 / pi,
    u(x, 0) = -sin(pi x),   u(-1, t) = u(1, t) = 0.

Three compiled phases: Adam in float32 (fast, robust start), L-BFGS in float32 until
it stalls at float32's floor, then L-BFGS in float64 until it stalls again. Prints
the relative L2 error against the exact (Cole–Hopf) solution on the standard
256 x 100 grid and the wall time, and writes a PNG of prediction, reference and
error (and one of the loss history).

    python examples/burgers.py [--steps N] [--checkpoint-dir DIR [--resume]]
                               [--json] [--out DIR]

With --checkpoint-dir the whole training state is saved every --checkpoint-every
steps and at the end of each phase; a run killed at any moment continues with
--resume from the latest checkpoint and ends exactly as an uninterrupted run would.
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


def _phases(loss, sampler, state0, *, nu, adam_lr, resample_every, memory, chunk, tol):
    """The three phases, each a function returning `(optimizer, dtype, step, kw)`.

    `kw` holds the phase's `pl.fit` arguments (its `batch` among them). The L-BFGS
    points are drawn from the key alone, so a resumed run gets the same ones.
    """
    points32 = pl.draw_batch(sampler, state0, None)
    points64 = jax.tree.map(lambda p: p.astype(jnp.float64), points32)

    def adam_phase():
        adam = optax.adam(adam_lr)
        kw = dict(batch=sampler, resample_every=resample_every)
        return adam, jnp.float32, pl.make_step(loss, adam), kw

    def lbfgs_phase(points):
        def build():
            lbfgs = optax.lbfgs(memory_size=memory)
            dtype = points["pde"].dtype
            weights = jax.tree.map(lambda w: w.astype(dtype), state0.weights)

            @eqx.filter_jit
            def training_loss(model, weights):
                return loss(model, points, weights, {"nu": nu})[0]

            stalled = pl.Validation(
                lambda s: training_loss(s.model, weights),
                patience=1,
                min_rel_improvement=tol,
            )
            kw = dict(batch=points, chunk_size=chunk, validation=stalled)
            return lbfgs, dtype, pl.make_step(loss, lbfgs, reuse_value=True), kw

        return build

    return [adam_phase, lbfgs_phase(points32), lbfgs_phase(points64)]


def _resume_point(checkpoint_dir, templates):
    """The latest checkpoint and its phase, or None."""
    latest = pl.checkpoint.latest(checkpoint_dir)
    if latest is None:
        return None
    phase = pl.checkpoint.read_info(latest)["metadata"]["phase"]
    ckpt = pl.checkpoint.load(latest, templates[phase])
    return ckpt, phase


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
    sampler = pl.domains.sampler(
        domain,
        method=method,
        dtype=jnp.float32,
        pde=("interior", interior),
        bc=("boundary", boundary),
        ic=("initial", initial),
    )
    args = {"nu": nu}
    state = pl.init_state(u, optax.adam(adam_lr), loss, key=state_key)
    phases = _phases(
        loss,
        sampler,
        state,
        nu=nu,
        adam_lr=adam_lr,
        resample_every=resample_every,
        memory=lbfgs_memory,
        chunk=lbfgs_chunk,
        tol=lbfgs_min_improvement,
    )
    limits = [adam_steps, lbfgs_steps, lbfgs64_steps]
    total = sum(limits) if steps is None else steps

    # A phase's state at its start: switch_optimizer from the previous phase. The
    # same structure serves as the template for loading a checkpoint of the phase.
    def start_phase(index, state):
        optimizer, dtype, _, _ = phases[index]()
        return pl.switch_optimizer(state, optimizer, dtype=dtype)

    # `resumed`: the checkpoint the current phase continues (None: a fresh phase).
    phase, phase_start, history, resumed = 0, 0, None, None
    if resume and checkpoint_dir is not None:
        templates = [start_phase(i, state) for i in range(3)]
        found = _resume_point(checkpoint_dir, templates)
        if found is not None:
            resumed, phase = found
            state, meta = resumed.state, resumed.metadata
            phase_start = meta["phase_start"]
            done = int(state.step) - phase_start
            if meta["result"] == "stopped_early" or done >= limits[phase]:
                phase, phase_start = phase + 1, int(state.step)
                history, resumed = resumed.history, None
                if phase < 3:
                    state = start_phase(phase, state)
    else:
        state = start_phase(0, state)
    seconds = [0.0, 0.0, 0.0]
    while phase < 3 and int(state.step) < total:
        began = time.perf_counter()
        _, _, step, kw = phases[phase]()
        num = min(
            limits[phase] - (int(state.step) - phase_start), total - int(state.step)
        )
        if num > 0:
            result = pl.fit(
                step,
                state,
                kw.pop("batch"),
                num,
                args=args,
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
                **kw,
            )
            state, history = result.state, result.history
        seconds[phase] = time.perf_counter() - began
        phase, phase_start, resumed = phase + 1, int(state.step), None
        if phase < 3 and int(state.step) < total:
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
        "lbfgs32_s": round(seconds[1], 2),
        "lbfgs64_s": round(seconds[2], 2),
        "steps": int(state.step),
        "final_loss": float(history["loss"][-1]),
        "prediction": prediction.reshape(256, 100),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adam-steps", type=int, default=4000)
    parser.add_argument("--lbfgs-steps", type=int, default=10_000)
    parser.add_argument("--lbfgs64-steps", type=int, default=10_000)
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
        lbfgs_steps=cli.lbfgs_steps,
        lbfgs64_steps=cli.lbfgs64_steps,
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
