"""Fields: point functions ``u(x)`` built from equinox modules."""

from ._deeponet import DeepONet as DeepONet
from ._embeddings import (
    FourierFeatures as FourierFeatures,
    Normalize as Normalize,
    PeriodicEmbedding as PeriodicEmbedding,
)
from ._exact import ExactDirichlet as ExactDirichlet, exact_initial as exact_initial
from ._factorized import (
    FactorizedLinear as FactorizedLinear,
    FactorizedMLP as FactorizedMLP,
    factorized_mlp as factorized_mlp,
)
from ._fno import FNO as FNO, SpectralConv as SpectralConv
from ._mixed import (
    MixedLinear as MixedLinear,
    full_precision as full_precision,
    mixed_precision as mixed_precision,
)
from ._mlp import ACTIVATIONS as ACTIVATIONS, mlp as mlp
from ._modified_mlp import ModifiedMLP as ModifiedMLP
from ._piratenet import (
    PirateNet as PirateNet,
    least_squares_init as least_squares_init,
)
