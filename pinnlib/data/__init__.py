"""Data for operator learning: random input fields, solvers that make training pairs,
and minibatches reshuffled every epoch inside the compiled loop.

Everything here is a pure, jittable function of a `jax.random` key, so a data set is
reproducible from its key and can be generated on the device that trains on it.
"""

# Random fields and PDE solvers (training pairs).

# Antiderivative pairs (DeepONet).

# Minibatches.
from ._minibatch import Minibatches as Minibatches, minibatches as minibatches
