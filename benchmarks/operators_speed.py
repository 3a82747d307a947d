"""Fused Taylor streams vs nested jax.jvp vs reverse mode for PINN residual gradients.

Times the gradient (with respect to the MLP parameters) of the mean squared Burgers
and Allen–Cahn residuals at 2540 points, MLP 2-32-32-32-1 tanh, float32, for three
ways of getting u, u_t, u_x, u_xx: `pl.diff.partials` (fused, the default for MLP
fields), `pl.diff.partials(..., fused=False)` (nested `jax.jvp`), and reverse mode
(`jax.grad`, then grad of grad for u_xx). Medians of `--repeats` timings of
`--calls` calls each. Prints one JSON line.

    python benchmarks/operators_speed.py
"""

import argparse
import json
import statistics
import time

import equinox as eqx
import jax
import jax.numpy as jnp

import pinnlib as pl


def _reverse(u, x):
    value, grad = jax.value_and_grad(u)(x)
    u_xx = jax.grad(lambda z: jax.grad(u)(z)[0])(x)[0]
    return value, grad[1], grad[0], u_xx


def _residual(problem, v, v_t, v_x, v_xx):
    if problem == "burgers":
        return v_t + v * v_x - 0.01 / jnp.pi * v_xx
    return v_t - 1e-4 * v_xx + 5.0 * (v**3 - v)


def _gradient_fn(problem, mode, points):
    def loss(model):
        def r(x):
            if mode == "reverse":
                derivs = _reverse(model, x)
            else:
                derivs = pl.diff.partials(
                    model, x, (), (1,), (0,), (0, 0), fused=mode == "fused"
                )
            return _residual(problem, *derivs)

        return jnp.mean(jax.vmap(r)(points) ** 2)

    return eqx.filter_jit(eqx.filter_grad(loss))


def _median_us(fn, model, calls, repeats):
    jax.block_until_ready(fn(model))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            out = fn(model)
        jax.block_until_ready(out)
        times.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    cli = parser.parse_args()
    model = pl.nn.mlp(2, width=32, depth=3, key=jax.random.key(0), dtype=jnp.float32)
    points = jax.random.uniform(jax.random.key(1), (2540, 2), jnp.float32)
    out = {"benchmark": "operators_speed", "points": 2540}
    for problem in ("burgers", "allen_cahn"):
        us = {
            mode: _median_us(
                _gradient_fn(problem, mode, points), model, cli.calls, cli.repeats
            )
            for mode in ("fused", "nested_jvp", "reverse")
        }
        out[problem] = {f"{k}_us": round(v, 1) for k, v in us.items()}
        out[problem]["speedup_vs_nested_jvp"] = round(us["nested_jvp"] / us["fused"], 3)
        out[problem]["speedup_vs_reverse"] = round(us["reverse"] / us["fused"], 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
