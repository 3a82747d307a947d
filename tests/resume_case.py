"""Training runs for the resume test; run as a script for the fresh-process half.

python tests/resume_case.py DIR   # for every case: load DIR/<case>/first,
                                  # train the second half, save DIR/<case>/second
"""

import sys

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402
from helpers import burgers_problem  # noqa: E402

import pinnlib as pl  # noqa: E402

HALF = 6
CASES = (
    "adam-float32",
    "adam-float64",
    "lbfgs-float32",
    "lbfgs-float64",
    "ssbroyden-float64",
    "lm-float64",
    "fno-float32",
)
OPTIMIZERS = {
    "adam": lambda: optax.adam(1e-2),
    "lbfgs": lambda: optax.lbfgs(memory_size=4),
    "ssbroyden": lambda: pl.optim.quasi_newton("ssbroyden"),
    "lm": lambda: pl.optim.levenberg_marquardt(),
}


def build(case: str):
    """`(step, initial state, batch or sampler, fit keyword arguments)` of a case."""
    name, dtype = case.split("-")
    dtype = jnp.dtype(dtype)
    if name == "fno":  # an operator on minibatches: epochs of 3 steps, reshuffled
        inputs = jax.random.normal(jax.random.key(0), (12, 1, 16), dtype)
        batches = pl.data.minibatches({"data": (inputs, jnp.sin(inputs))}, 4)
        fno = pl.nn.FNO(
            1,
            1,
            modes=4,
            width=6,
            depth=2,
            projection=8,
            key=jax.random.key(2),
            dtype=dtype,
        )
        training = pl.training(
            pl.losses.combine(data=pl.losses.relative_l2()), optax.adam(1e-2)
        )
        state = training.init(fno, key=jax.random.key(1))
        kw = dict(chunk_size=4, progress=False, resample_every=1)
        return training, state, batches, kw
    u, loss, sampler = burgers_problem(width=6, depth=2, dtype=dtype)
    optimizer = OPTIMIZERS[name]()
    state = pl.init_state(u, optimizer, loss, key=jax.random.key(1))
    kw = dict(args={"nu": 0.05}, chunk_size=4, progress=False)
    if name == "adam":  # points redrawn every 5 steps
        return pl.make_step(loss, optimizer), state, sampler, dict(kw, resample_every=5)
    if name == "ssbroyden":  # a stored value and curvature, and points redrawn
        step = pl.make_step(loss, optimizer, reuse_value=True)
        return step, state, sampler, dict(kw, resample_every=5)
    if name == "lm":
        return (
            pl.make_step(loss, optimizer),
            state,
            pl.draw_batch(sampler, state, None),
            kw,
        )
    batch = pl.draw_batch(sampler, state, None)
    return pl.make_step(loss, optimizer, reuse_value=True), state, batch, kw


def second_half(directory: str) -> None:
    for case in CASES:
        step, template, batch, kw = build(case)
        ckpt = pl.checkpoint.load(f"{directory}/{case}/first", template)
        result = pl.fit(step, ckpt.state, batch, HALF, resume=ckpt, **kw)
        pl.checkpoint.save(
            f"{directory}/{case}/second", result.state, history=result.history
        )


if __name__ == "__main__":
    second_half(sys.argv[1])
