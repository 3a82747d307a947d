"""Fields: point functions ``u(x)`` built from equinox modules."""

from ._embeddings import (
    FourierFeatures as FourierFeatures,
)
from ._embeddings import (
    Normalize as Normalize,
)
from ._embeddings import (
    PeriodicEmbedding as PeriodicEmbedding,
)
from ._mlp import ACTIVATIONS as ACTIVATIONS
from ._mlp import mlp as mlp
