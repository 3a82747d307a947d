"""pinnlib: functional, pure-JAX physics-informed machine learning.

Pure functions over Equinox pytrees: fields (`pinnlib.nn`), differential operators
(`pinnlib.diff`), residuals (`pinnlib.pdes`), domains and samplers
(`pinnlib.domains`), loss builders (`pinnlib.losses`), and a training core of one
state pytree, one step function and one scanned loop.
"""

from importlib.metadata import PackageNotFoundError, version

from . import (
    diff as diff,
)
from . import (
    domains as domains,
)
from . import (
    losses as losses,
)
from . import (
    metrics as metrics,
)
from . import (
    nn as nn,
)
from . import (
    pdes as pdes,
)
from . import (
    plot as plot,
)
from . import (
    reference as reference,
)
from .train import (
    FitResult as FitResult,
)
from .train import (
    TrainState as TrainState,
)
from .train import (
    draw_batch as draw_batch,
)
from .train import (
    fit as fit,
)
from .train import (
    init_state as init_state,
)
from .train import (
    make_step as make_step,
)
from .train import (
    run_steps as run_steps,
)
from .train import (
    switch_optimizer as switch_optimizer,
)

try:
    __version__ = version("pinnlib")
except PackageNotFoundError:  # running from a source checkout
    __version__ = "0.1.0"
