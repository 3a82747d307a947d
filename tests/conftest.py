import itertools
import os

# The suite is bound by compilation (small problems, many programs): XLA's CPU
# backend at optimisation level 0 compiles about a third faster. The numbers of
# each program are checked against references and finite differences as before;
# processes that compare results bit for bit (resume in a fresh process) inherit
# the same flags. Set before JAX starts its backend.
os.environ["XLA_FLAGS"] = " ".join(
    [os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0"]
).strip()

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def getkey():
    """Return a function that hands out a fresh, deterministic PRNG key per call."""
    counter = itertools.count()
    return lambda: jax.random.key(next(counter))
