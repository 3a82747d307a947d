"""Training runs for the resume test; run as a script for the fresh-process half.

python tests/resume_case.py DIR   # for every case: load DIR/<case>/first,
                                  # train the second half, save DIR/<case>/second
"""

import sys

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

import pinnlib as pl  # noqa: E402

HALF = 6
CASES = ("adam-float32", "adam-float64", "lbfgs-float32", "lbfgs-float64")


def build(case: str):
    """`(step, initial state, batch or sampler, fit keyword arguments)` of a case."""
    name, dtype = case.split("-")
    dtype = jnp.dtype(dtype)
    domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 1.0)
    u = pl.nn.mlp(2, width=6, depth=2, key=jax.random.key(0), dtype=dtype)
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers),
        bc=pl.losses.dirichlet(0.0),
        ic=pl.losses.initial(lambda p: -jnp.sin(jnp.pi * p[0])),
    )
    sampler = pl.domains.sampler(
        domain, dtype=dtype, pde=("interior", 32), bc=("boundary", 8), ic=("initial", 8)
    )
    optimizer = optax.adam(1e-2) if name == "adam" else optax.lbfgs(memory_size=4)
    state = pl.init_state(u, optimizer, loss, key=jax.random.key(1))
    kw = dict(args={"nu": 0.05}, chunk_size=4, progress=False)
    if name == "adam":  # points redrawn every 5 steps
        return pl.make_step(loss, optimizer), state, sampler, dict(kw, resample_every=5)
    batch = pl.draw_batch(sampler, state, None)
    return pl.make_step(loss, optimizer, reuse_value=True), state, batch, kw


def second_half(directory: str) -> None:
    for case in CASES:
        step, template, batch, kw = build(case)
        ckpt = pl.checkpoint.load(f"{directory}/{case}/first", template)
        result = pl.fit(step, ckpt.state, batch, HALF, history=ckpt.history, **kw)
        pl.checkpoint.save(
            f"{directory}/{case}/second", result.state, history=result.history
        )


if __name__ == "__main__":
    second_half(sys.argv[1])
