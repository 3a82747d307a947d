"""Fields: point functions ``u(x)`` built from equinox modules."""

from ._embeddings import (
    FourierFeatures as FourierFeatures,
    Normalize as Normalize,
    PeriodicEmbedding as PeriodicEmbedding,
)
from ._mlp import ACTIVATIONS as ACTIVATIONS, mlp as mlp
