"""Allen–Cahn 1-d with a PINN: the full adaptive-training recipe, in library calls.

    u_t - 1e-4 u_xx + 5 u^3 - 5 u = 0,  x in [-1, 1] periodic,  t in [0, 1],
    u(x, 0) = x^2 cos(pi x).

The recipe of Wang et al., "An expert's guide to training physics-informed neural
networks" (2023), at a size that trains on a laptop CPU:

- field: exact periodic embedding in x (`pl.nn.PeriodicEmbedding`), trainable
  Fourier features (`pl.nn.FourierFeatures(trainable=True)`), then a modified MLP
  (`pl.nn.ModifiedMLP`) with random weight factorization (`factorized=True`);
- loss: the causally weighted residual over 32 time chunks
  (`pl.losses.causal_residual`), its tolerance raised in 8 stages, to the larger of
  the schedule 1, 2, ..., 128 and the balanced tolerance
  (`pl.losses.balanced_tolerance`) that keeps the last chunk's weight near e^-B,
  B = `causal_balance` = 2, as the residual falls (passed as
  `args["causal_tolerance"]`, so no stage recompiles), plus the initial condition;
- weights: learning-rate annealing of the initial-condition and residual terms by
  their gradient norms every 100 steps (`pl.weighting.gradient_norm_annealing`);
- points: fresh uniform points at every step (`pl.fit(..., resample_every=1)`);
- optimiser: Adam with a linear warm-up and exponential decay; float32, with
  matrix products at full float32 precision on GPUs too (`matmul_precision`).

Prints the relative L2 error against the spectral reference
(`pl.reference.allen_cahn_grid`, 201 x 512) and writes plots of the solution and of
the loss history. It ends near 1e-4; `examples/allen_cahn.py` (a small network, then
a quasi-Newton finish in float64) is more than 20 times more accurate in less time.

    python examples/allen_cahn_adaptive.py [--steps N] [--seed S] [--json] [--out DIR]

Every ingredient can be switched off (`--no-causal`, `--no-balance`,
`--no-annealing`, `--no-fourier`, `--no-factorized`, `--no-modified`,
`--no-periodic`), which is what
`benchmarks/ablation_allen_cahn.py` does; without the periodic embedding a periodic
boundary loss term takes its place.
"""

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import pinnlib as pl

F32 = jnp.float32  # the recipe trains in float32 (also when x64 is switched on)
# Tolerances of the causal weights, one per equal share of the steps.
CAUSAL_STAGES = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)


def build_field(
    key, *, width, depth, fourier, fourier_scale, factorized, modified, periodic
):
    """The field u(x, t): [periodic embedding] -> [Fourier features] -> MLP."""
    k_ff, k_net = jax.random.split(key)
    layers = []
    size = 2
    if periodic:
        layers.append(pl.nn.PeriodicEmbedding(2, axes=(0,), periods=(2.0,)))
        size = layers[-1].out_size
    if fourier:
        ff = pl.nn.FourierFeatures(
            size, fourier, scale=fourier_scale, trainable=True, key=k_ff, dtype=F32
        )
        layers.append(ff)
        size = ff.out_size
    if modified:
        net = pl.nn.ModifiedMLP(
            size,
            width=width,
            depth=depth,
            factorized=factorized,
            key=k_net,
            dtype=F32,
        )
    elif factorized:
        net = pl.nn.factorized_mlp(size, width=width, depth=depth, key=k_net, dtype=F32)
    else:
        net = pl.nn.mlp(size, width=width, depth=depth, key=k_net, dtype=F32)
    layers.append(net)
    return eqx.nn.Sequential(layers)


def main(
    *,
    steps: int = 115_000,
    width: int = 96,
    depth: int = 4,
    fourier: int = 32,
    fourier_scale: float = 1.0,
    points: int = 512,
    initial_points: int = 512,
    learning_rate: float = 1e-3,
    warmup: int = 5000,
    decay_every: int = 2500,
    decay_rate: float = 0.9,
    chunks: int = 32,
    causal_balance: float | None = 2.0,
    anneal_every: int = 100,
    causal: bool = True,
    annealing: bool = True,
    factorized: bool = True,
    modified: bool = True,
    periodic: bool = True,
    chunk_size: int = 1000,
    seed: int = 0,
    matmul_precision: str | None = "highest",
    out: str | None = "out",
    progress: bool = True,
    log=None,
) -> dict:
    """Train and evaluate; return the figures as a dict (and write plots to `out`).

    `log(message)`, if given, receives a line at the end of each causal stage with
    the step, loss, error against the reference and elapsed time.

    `matmul_precision` is JAX's float32 matrix-product precision for the run. On
    GPUs JAX's default lets XLA multiply float32 in TF32 (10 mantissa bits), which
    left this recipe's error about 3x larger on an H100; "highest" keeps float32.
    CPUs multiply in float32 either way. `None` keeps the precision already set.
    """
    if matmul_precision is None:
        precision = contextlib.nullcontext()
    else:
        precision = jax.default_matmul_precision(matmul_precision)
    with precision:
        start = time.perf_counter()
        model_key, state_key = jax.random.split(jax.random.key(seed))
        u = build_field(
            model_key,
            width=width,
            depth=depth,
            fourier=fourier,
            fourier_scale=fourier_scale,
            factorized=factorized,
            modified=modified,
            periodic=periodic,
        )
        pde = (
            pl.losses.causal_residual(pl.pdes.allen_cahn, num_chunks=chunks)
            if causal
            else pl.losses.residual(pl.pdes.allen_cahn)
        )
        terms = {
            "pde": pde,
            "ic": pl.losses.initial(lambda p: p[0] ** 2 * jnp.cos(jnp.pi * p[0])),
        }
        sets = {"pde": ("interior", points), "ic": ("initial", initial_points)}
        if not periodic:
            terms["bc"] = pl.losses.periodic(axis=0, period=2.0)
            sets["bc"] = ("x0_lower", initial_points)
        loss = pl.losses.combine(**terms)
        domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 1.0)
        sampler = pl.domains.sampler(domain, dtype=jnp.float32, **sets)
        schedule = optax.warmup_exponential_decay_schedule(
            0.0, learning_rate, warmup, decay_every, decay_rate
        )
        adam = optax.inject_hyperparams(optax.adam)(learning_rate=schedule)
        weighting = pl.weighting.gradient_norm_annealing() if annealing else None
        state = pl.init_state(u, adam, loss, key=state_key, weighting=weighting)
        step = pl.make_step(loss, adam, weighting=weighting, update_every=anneal_every)

        # Points on which the causal tolerance is balanced between stages.
        probe = pl.domains.sampler(domain, dtype=jnp.float32, pde=("interior", 4096))
        balanced = eqx.filter_jit(
            lambda model, key: pl.losses.balanced_tolerance(
                pl.pdes.allen_cahn,
                model,
                probe(key)["pde"],
                num_chunks=chunks,
                balance=causal_balance,
            )
        )
        grid, reference = pl.reference.allen_cahn_grid(dtype=jnp.float32)
        stages = CAUSAL_STAGES if causal else (None,)
        bounds = np.linspace(0, steps, len(stages) + 1).round().astype(int)
        history = None

        for tolerance, begin, end in zip(stages, bounds[:-1], bounds[1:]):
            if end <= begin:
                continue
            if tolerance is not None and causal_balance is not None and history:
                key = jax.random.fold_in(state_key, int(begin))
                tolerance = max(tolerance, float(balanced(state.model, key)))
            args = None if tolerance is None else {"causal_tolerance": tolerance}
            result = pl.fit(
                step,
                state,
                sampler,
                int(end - begin),
                args=args,
                resample_every=1,
                chunk_size=chunk_size,
                history=history,
                progress=progress,
            )
            state, history = result.state, result.history
            if log is not None:
                log(
                    f"step {int(state.step)}: tolerance {tolerance}, "
                    f"loss {float(history['loss'][-1]):.3e}, "
                    f"rel_l2 {pl.metrics.rel_l2(state.model, grid, reference):.3e}, "
                    f"{time.perf_counter() - start:.0f} s"
                )
        train_s = time.perf_counter() - start

        prediction = np.asarray(pl.metrics.evaluate(state.model, grid), np.float64)
        error = pl.metrics.relative_l2(prediction, reference)
        if out is not None:
            out_dir = Path(out)
            out_dir.mkdir(parents=True, exist_ok=True)
            x = -1.0 + 2.0 * np.arange(512) / 512
            t = np.linspace(0.0, 1.0, 201)
            pl.plot.solution(
                x,
                t,
                prediction.reshape(201, 512).T,
                reference.reshape(201, 512).T,
                out_dir / "allen_cahn_adaptive.png",
                title="Allen–Cahn",
            )
            pl.plot.loss_history(history, path=out_dir / "allen_cahn_adaptive_loss.png")
        return {
            "rel_l2": float(error),
            "steps": int(state.step),
            "train_s": round(train_s, 2),
            "final_loss": float(history["loss"][-1]),
            "terms": list(loss.names),
            "prediction": prediction.reshape(201, 512),
        }


def _flags() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=115_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fourier-scale", type=float, default=None)
    parser.add_argument("--decay-every", type=int, default=None)
    parser.add_argument(
        "--causal-balance",
        type=float,
        default=None,
        help="B: keep the last chunk's causal weight near exp(-B) (default 2)",
    )
    parser.add_argument(
        "--no-balance", action="store_true", help="the fixed schedule 1, ..., 128"
    )
    parser.add_argument(
        "--matmul-precision",
        default=None,
        help="float32 matrix products: highest (default), high or default (TF32 on GPUs)",
    )
    parser.add_argument("--out", default="out", help="plot directory ('' for none)")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--no-progress", action="store_true")
    for name in (
        "causal",
        "annealing",
        "fourier",
        "factorized",
        "modified",
        "periodic",
    ):
        parser.add_argument(f"--no-{name}", action="store_true")
    flags = parser.parse_args()
    options = {
        "steps": flags.steps,
        "seed": flags.seed,
        "out": flags.out or None,
        "progress": not flags.no_progress,
    }
    for name in ("causal", "annealing", "factorized", "modified", "periodic"):
        options[name] = not getattr(flags, f"no_{name}")
    if flags.no_fourier:
        options["fourier"] = 0
    if flags.no_balance:
        options["causal_balance"] = None
    for name in ("fourier_scale", "decay_every", "causal_balance", "matmul_precision"):
        if getattr(flags, name) is not None:
            options[name] = getattr(flags, name)
    return options | {"json": flags.json}


if __name__ == "__main__":
    options = _flags()
    as_json = options.pop("json")
    figures = main(**options, log=lambda line: print(line, file=sys.stderr, flush=True))
    figures.pop("prediction")
    if as_json:
        print(json.dumps(figures))
    else:
        print(
            f"relative L2 error vs spectral reference: {figures['rel_l2']:.3e} "
            f"({figures['steps']} steps, {figures['train_s']:.1f} s)"
        )
