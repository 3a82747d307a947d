"""An ensemble of M Burgers PINNs in one compiled run, against one member alone.

The Burgers speed set-up (MLP 2-32-32-32-1 tanh, 2540/80/160 fixed points, Adam
1e-3, float32, weights 1): M members with their own Glorot initialisations (seeds
0..M-1) train together as `eqx.filter_vmap` of `pl.run`, one compiled program; in
the same process member 0 trains alone with the same `pl.run`. Both are timed on
their second call (compilation excluded), alternating `--repeats` times, medians
reported. `ratio = ensemble_s / single_s` (M times the work; 1 would be free
batching). `max_member_rel_diff` is the largest, over members, of
$\\|\\theta_m^{ens} - \\theta_m^{alone}\\|_2 / \\|\\theta_m^{alone}\\|_2$, each member's
final parameters against the same member trained alone. The last line printed is
one JSON object.

For context, the same process times hand-written plain JAX (the baseline of
`burgers_speed.py`) alone and under `jax.vmap` over the same M initialisations:
`plain_jax_ratio` is what batching costs XLA on this machine without pinnlib.
`--dtype float64` (with x64) shows how much of `max_member_rel_diff` is float32
rounding, amplified over the steps by the training dynamics.

    python benchmarks/ensemble.py --members 8 --steps 1000
"""

import argparse
import json
import platform
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from _burgers_setup import NU, init_weights, make_points
from burgers_speed import _residual_rev, burgers_loss, pinnlib_model, plain_jax_runner

import pinnlib as pl


def _flat(model) -> np.ndarray:
    leaves = jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))
    return np.concatenate([np.asarray(x, np.float64).ravel() for x in leaves])


def _time(fn, *inputs):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*inputs))
    return time.perf_counter() - start, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    opts = parser.parse_args()
    m, n = opts.members, opts.steps
    if opts.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    dtype = jnp.dtype(opts.dtype)

    batch = {k: jnp.asarray(v, dtype) for k, v in make_points(0).items()}
    training = pl.training(burgers_loss(), optax.adam(1e-3))
    args = {"nu": jnp.asarray(NU, dtype)}
    weights = [
        [(w.astype(dtype), b.astype(dtype)) for w, b in init_weights(seed)]
        for seed in range(m)
    ]
    states = [
        training.init(pinnlib_model(w), key=jax.random.key(seed))
        for seed, w in enumerate(weights)
    ]
    stacked = jax.tree.map(
        lambda *xs: jnp.stack(xs) if eqx.is_array(xs[0]) else xs[0], *states
    )

    single = eqx.filter_jit(lambda s: pl.run(training, s, batch, n, args=args))
    ensemble = eqx.filter_jit(
        eqx.filter_vmap(lambda s: pl.run(training, s, batch, n, args=args))
    )
    compile_s = {
        "single": _time(single, states[0])[0],
        "ensemble": _time(ensemble, stacked)[0],
    }
    times = {"single": [], "ensemble": []}
    for _ in range(opts.repeats):
        times["single"].append(_time(single, states[0])[0])
        seconds, runs = _time(ensemble, stacked)
        times["ensemble"].append(seconds)
    single_s = statistics.median(times["single"])
    ensemble_s = statistics.median(times["ensemble"])

    plain = plain_jax_runner(_residual_rev, n)
    plain_pts = dict(batch, ic_u=-jnp.sin(jnp.pi * batch["ic"][:, 0]))
    plain_params = [[(jnp.asarray(w), jnp.asarray(b)) for w, b in p] for p in weights]
    plain_stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *plain_params)
    plain_single = jax.jit(lambda p: plain(p, plain_pts))
    plain_vmap = jax.jit(jax.vmap(lambda p: plain(p, plain_pts)))
    _time(plain_single, plain_params[0]), _time(plain_vmap, plain_stacked)
    plain_times = {"single": [], "vmap": []}
    for _ in range(opts.repeats):
        plain_times["single"].append(_time(plain_single, plain_params[0])[0])
        plain_times["vmap"].append(_time(plain_vmap, plain_stacked)[0])
    plain_ratio = statistics.median(plain_times["vmap"]) / statistics.median(
        plain_times["single"]
    )

    diffs, codes = [], [int(c) for c in runs.result]
    for i, state in enumerate(states):
        alone = single(state)
        codes.append(int(alone.result))
        mine = _flat(
            jax.tree.map(lambda x: x[i], eqx.filter(runs.state.model, eqx.is_array))
        )
        ref = _flat(alone.state.model)
        diffs.append(float(np.linalg.norm(mine - ref) / np.linalg.norm(ref)))
    final_loss = np.asarray(runs.metrics["loss"][:, -1])

    print(
        json.dumps(
            {
                "problem": "burgers_ensemble",
                "members": m,
                "steps": n,
                "repeats": opts.repeats,
                "ensemble_s": round(ensemble_s, 3),
                "single_s": round(single_s, 3),
                "ratio": round(ensemble_s / single_s, 3),
                "us_per_step_single": round(single_s / n * 1e6, 1),
                "us_per_member_step": round(ensemble_s / n / m * 1e6, 1),
                "max_member_rel_diff": max(diffs),
                "median_member_rel_diff": float(np.median(diffs)),
                "plain_jax_ratio": round(plain_ratio, 3),
                "dtype": opts.dtype,
                "all_successful": all(c == 0 for c in codes),
                "final_loss_median": float(np.median(final_loss)),
                "compile_s": {k: round(v, 2) for k, v in compile_s.items()},
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
