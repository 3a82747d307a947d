"""Loss-weighting strategies as optax-style `(init, update)` pairs."""

from ._base import (
    WeightingContext as WeightingContext,
    WeightingStrategy as WeightingStrategy,
    normalize as normalize,
    term_gradient_norms as term_gradient_norms,
)
from ._gradnorm import gradnorm as gradnorm
from ._ntk import ntk as ntk, ntk_traces as ntk_traces
from ._strategies import (
    fixed as fixed,
    gradient_norm_annealing as gradient_norm_annealing,
    relobralo as relobralo,
    scheduled as scheduled,
    softadapt as softadapt,
)
