import gc
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


# The longest modules first: xdist (--dist loadfile) hands out modules in collection
# order, so the long ones overlap the short ones instead of ending the run alone.
LONGEST_FIRST = (
    "test_parallel.py",
    "test_resume.py",
    "test_docs_code_heavy.py",
    "test_docs_code.py",
    "test_examples.py",
    "test_distributed.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Free each test module's compiled programs when it ends.

    Every XLA:CPU executable maps its code into the process; a worker that runs half
    the suite would otherwise hold over 65530 mappings (Linux's default
    `vm.max_map_count`), and the next compilation would crash.
    """
    yield
    jax.clear_caches()
    gc.collect()
