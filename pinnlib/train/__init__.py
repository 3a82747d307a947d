"""Training core: state, step, scanned loop. No classes with behaviour."""

from ._coefficients import Coefficient as Coefficient, trainable as trainable
from ._export import save_history as save_history
from ._fit import fit as fit
from ._loop import (
    Run as Run,
    draw_batch as draw_batch,
    run as run,
    run_steps as run_steps,
)
from ._options import (
    Checkpoints as Checkpoints,
    Progress as Progress,
    Validation as Validation,
)
from ._results import (
    RESULTS as RESULTS,
    FitResult as FitResult,
    NonFiniteError as NonFiniteError,
)
from ._state import (
    TrainState as TrainState,
    init_state as init_state,
    switch_optimizer as switch_optimizer,
)
from ._step import make_step as make_step
from ._training import Training as Training, training as training
