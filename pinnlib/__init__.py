"""pinnlib: functional, pure-JAX physics-informed machine learning.

Pure functions over Equinox pytrees: fields (`pinnlib.nn`), differential operators
(`pinnlib.diff`), residuals (`pinnlib.pdes`), domains and samplers
(`pinnlib.domains`), loss builders (`pinnlib.losses`), optimizers beyond optax's
(`pinnlib.optim`), loss-weighting and sampling strategies (`pinnlib.weighting`,
`pinnlib.sampling`), and a training core of one state pytree, one step function and
one scanned loop.
"""

from importlib.metadata import PackageNotFoundError, version

from . import (
    checkpoint as checkpoint,
    data as data,
    diff as diff,
    domains as domains,
    losses as losses,
    metrics as metrics,
    nn as nn,
    optim as optim,
    parallel as parallel,
    pdes as pdes,
    plot as plot,
    reference as reference,
    sampling as sampling,
    typing as typing,
    weighting as weighting,
)
from .train import (
    RESULTS as RESULTS,
    Checkpoints as Checkpoints,
    Coefficient as Coefficient,
    FitResult as FitResult,
    NonFiniteError as NonFiniteError,
    Progress as Progress,
    Run as Run,
    Training as Training,
    TrainState as TrainState,
    Validation as Validation,
    draw_batch as draw_batch,
    fit as fit,
    init_state as init_state,
    make_step as make_step,
    run as run,
    run_steps as run_steps,
    save_history as save_history,
    switch_optimizer as switch_optimizer,
    trainable as trainable,
    training as training,
)

try:
    __version__ = version("pinnlib")
except PackageNotFoundError:  # running from a source checkout
    __version__ = "0.1.0"
