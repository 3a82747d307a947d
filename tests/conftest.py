import gc
import itertools
import os
import subprocess
import sys
from pathlib import Path

# The suite is bound by compilation (small problems, many programs). Two XLA:CPU
# settings make it compile faster: optimisation level 0 (about a third faster), and
# the elemental emitters in place of the fusion emitters (another third). Each
# program's numbers are checked against references and finite differences as before;
# processes that compare results bit for bit (resume in a fresh process) inherit the
# same flags. XLA aborts on a flag it does not know, so the flags are tried once in a
# child process; the pytest-xdist workers inherit the outcome.
#
# With these settings two *different* programs that compute the same thing (`run`
# and `fit`, training with and without averaging) may round differently. The tests
# of such claims are marked `xla_defaults` and run in a child process with XLA's
# default settings, those a user has (see `pytest_pyfunc_call` below).
FAST_COMPILE = (
    "--xla_backend_optimization_level=0",
    "--xla_cpu_use_fusion_emitters=false",
)
_SET = "PINNLIB_TESTS_XLA_FLAGS_SET"
_USER_FLAGS = "PINNLIB_TESTS_USER_XLA_FLAGS"
XLA_DEFAULTS = os.environ.get("PINNLIB_TESTS_XLA_DEFAULTS") == "1"


def _with_fast_compile(flags: str) -> str:
    candidate = " ".join([flags, *FAST_COMPILE]).strip()
    probe = subprocess.run(
        [sys.executable, "-c", "import jax; jax.numpy.zeros(2).block_until_ready()"],
        env={**os.environ, "XLA_FLAGS": candidate, "JAX_PLATFORMS": "cpu"},
        capture_output=True,
    )
    return candidate if probe.returncode == 0 else flags


if not XLA_DEFAULTS and _SET not in os.environ:  # before JAX starts its backend
    os.environ[_USER_FLAGS] = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = _with_fast_compile(os.environ[_USER_FLAGS])
    os.environ[_SET] = "1"

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


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "xla_defaults: compares two different programs bit for bit; runs in a child "
        "process with XLA's default compiler settings",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run a test marked `xla_defaults` in a child pytest with XLA's defaults."""
    if XLA_DEFAULTS or pyfuncitem.get_closest_marker("xla_defaults") is None:
        return None
    root = Path(__file__).resolve().parents[1]
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider"]
        + [pyfuncitem.nodeid],
        cwd=root,
        env={
            **os.environ,
            "XLA_FLAGS": os.environ.get(_USER_FLAGS, ""),
            "PINNLIB_TESTS_XLA_DEFAULTS": "1",
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    if child.returncode != 0:
        pytest.fail(
            f"with XLA's default settings:\n{child.stdout[-6000:]}{child.stderr[-2000:]}",
            pytrace=False,
        )
    return True
