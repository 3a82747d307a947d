"""Speed of pinnlib's Burgers training step against hand-written plain JAX.

The set-up of the standard peer benchmark: MLP 2-32-32-32-1 tanh, 2540/80/160 fixed
points, Adam 1e-3, float32, soft constraints with weight 1, identical points and
initial weights for both. Both run the N-step loop as one compiled `lax.scan`; we time
the second call of each (compilation excluded), alternating the two `--repeats` times,
and report medians. The plain-JAX baseline is the peer benchmark's: u_x, u_t by
`jax.grad`, u_xx by grad of grad ("rev"); the forward-mode variant ("fwd", nested
`jax.jvp`) is timed too. The last line printed is one JSON object.

    python benchmarks/burgers_speed.py --steps 2000
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

import pinnlib as pl

# ---------------------------------------------------------------- plain JAX


def _mlp(params, xt):
    h = xt
    for w, b in params[:-1]:
        h = jnp.tanh(h @ w + b)
    w, b = params[-1]
    return (h @ w + b)[0]


def _residual_rev(params, xt):
    u = lambda z: _mlp(params, z)  # noqa: E731
    u_val, du = jax.value_and_grad(u)(xt)
    u_xx = jax.grad(lambda z: jax.grad(u)(z)[0])(xt)[0]
    return du[1] + u_val * du[0] - NU * u_xx


def _residual_fwd(params, xt):
    u = lambda z: _mlp(params, z)  # noqa: E731
    ex, et = jnp.array([1.0, 0.0], xt.dtype), jnp.array([0.0, 1.0], xt.dtype)
    u_x_fn = lambda z: jax.jvp(u, (z,), (ex,))[1]  # noqa: E731
    u_x, u_xx = jax.jvp(u_x_fn, (xt,), (ex,))
    u_val, u_t = jax.jvp(u, (xt,), (et,))
    return u_t + u_val * u_x - NU * u_xx


def plain_jax_runner(residual, num_steps):
    opt = optax.adam(1e-3)

    def loss_fn(params, pts):
        r = jax.vmap(residual, (None, 0))(params, pts["pde"])
        ub = jax.vmap(_mlp, (None, 0))(params, pts["bc"])
        ui = jax.vmap(_mlp, (None, 0))(params, pts["ic"])
        return jnp.mean(r**2) + jnp.mean(ub**2) + jnp.mean((ui - pts["ic_u"]) ** 2)

    @jax.jit
    def train(params, opt_state, pts):
        def step(carry, _):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params, pts)
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        return jax.lax.scan(step, (params, opt_state), None, length=num_steps)

    return lambda params, pts: train(params, opt.init(params), pts)


# ---------------------------------------------------------------- pinnlib


def pinnlib_model(weights):
    u = pl.nn.mlp(2, width=32, depth=3, key=jax.random.key(0), dtype=jnp.float32)
    layers = tuple(
        eqx.tree_at(
            lambda lin: (lin.weight, lin.bias),
            layer,
            (jnp.asarray(w.T), jnp.asarray(b)),
        )
        for layer, (w, b) in zip(u.layers, weights)
    )
    return eqx.tree_at(lambda m: m.layers, u, layers)


def burgers_loss():
    """The set-up's loss: residual, u(+-1, t) = 0 and u(x, 0) = -sin(pi x), weights 1."""
    return pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers),
        bc=pl.losses.dirichlet(0.0),
        ic=pl.losses.initial(lambda p: -jnp.sin(jnp.pi * p[0])),
    )


def pinnlib_runner(num_steps):
    loss = burgers_loss()
    optimizer = optax.adam(1e-3)
    step = pl.make_step(loss, optimizer)
    run = eqx.filter_jit(pl.run_steps)

    def train(model, batch):
        state = pl.init_state(model, optimizer, loss, key=jax.random.key(0))
        return run(step, state, batch, num_steps, args={"nu": NU})

    return train, step, loss, optimizer


def _time(fn, *inputs):
    start = time.perf_counter()
    jax.block_until_ready(fn(*inputs))
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.steps

    points = make_points(0)
    weights = init_weights(0)
    batch = {k: jnp.asarray(v) for k, v in points.items()}
    plain_pts = dict(batch, ic_u=-jnp.sin(jnp.pi * batch["ic"][:, 0]))
    plain_params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in weights]
    model = pinnlib_model(weights)

    ours, step, loss, optimizer = pinnlib_runner(n)
    rev, fwd = plain_jax_runner(_residual_rev, n), plain_jax_runner(_residual_fwd, n)
    runs = {
        "pinnlib": (ours, model, batch),
        "rev": (rev, plain_params, plain_pts),
        "fwd": (fwd, plain_params, plain_pts),
    }
    compile_s = {name: _time(fn, *inp) for name, (fn, *inp) in runs.items()}

    # pl.fit, the chunked driver users call: one chunk of n steps, compiled once.
    fit_kwargs = dict(args={"nu": NU}, chunk_size=n, progress=False)
    fit_state = pl.init_state(model, optimizer, loss, key=jax.random.key(0))
    pl.fit(step, fit_state, batch, n, **fit_kwargs)

    times = {name: [] for name in [*runs, "fit"]}
    for _ in range(args.repeats):
        for name, (fn, *inp) in runs.items():
            times[name].append(_time(fn, *inp))
        start = time.perf_counter()
        pl.fit(step, fit_state, batch, n, **fit_kwargs)
        times["fit"].append(time.perf_counter() - start)
    us = {name: statistics.median(t) / n * 1e6 for name, t in times.items()}

    final_ours = ours(model, batch)[1]["loss"][-1]
    final_rev = rev(plain_params, plain_pts)[1][-1]
    print(
        json.dumps(
            {
                "problem": "burgers",
                "steps": n,
                "repeats": args.repeats,
                "us_per_step": round(us["pinnlib"], 1),
                "fit_us_per_step": round(us["fit"], 1),
                "baseline_us_per_step": round(us["rev"], 1),
                "baseline_fwd_us_per_step": round(us["fwd"], 1),
                "ratio": round(us["pinnlib"] / us["rev"], 3),
                "fit_ratio": round(us["fit"] / us["rev"], 3),
                "ratio_vs_fwd": round(us["pinnlib"] / us["fwd"], 3),
                "final_loss": float(final_ours),
                "baseline_final_loss": float(final_rev),
                "compile_s": {k: round(v, 2) for k, v in compile_s.items()},
                "versions": {
                    "python": platform.python_version(),
                    "jax": jax.__version__,
                    "pinnlib": pl.__version__,
                    "numpy": np.__version__,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
