import itertools
import os
import shutil
import tempfile

# The suite is bound by compilation (small problems, many programs): XLA's CPU
# backend at optimisation level 0 compiles about a third faster. The numbers of
# each program are checked against references and finite differences as before;
# processes that compare results bit for bit (resume in a fresh process) inherit
# the same flags. Set before JAX starts its backend.
os.environ["XLA_FLAGS"] = " ".join(
    [os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0"]
).strip()
# One persistent compilation cache for the whole run, shared by the xdist workers
# and the subprocesses: a program compiled twice (a test and its fresh-process
# half, or two tests building the same problem) is compiled once.
_OWN_CACHE = "JAX_COMPILATION_CACHE_DIR" not in os.environ
if _OWN_CACHE:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="pinnlib-jit-")
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


def pytest_unconfigure(config):
    """The run's own compilation cache is removed by the process that made it."""
    if _OWN_CACHE and not hasattr(config, "workerinput"):
        shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)


@pytest.fixture
def getkey():
    """Return a function that hands out a fresh, deterministic PRNG key per call."""
    counter = itertools.count()
    return lambda: jax.random.key(next(counter))
