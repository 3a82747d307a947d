"""Data for operator learning: random input fields, solvers that make training pairs,
and minibatches reshuffled every epoch inside the compiled loop.

Everything here is a pure, jittable function of a `jax.random` key, so a data set is
reproducible from its key and can be generated on the device that trains on it.
"""

# Random fields and PDE solvers (training pairs).
from ._burgers import burgers_pairs as burgers_pairs, burgers_solve as burgers_solve
from ._darcy import darcy_pairs as darcy_pairs, darcy_solve as darcy_solve
from ._fields import neumann_grf as neumann_grf, periodic_grf as periodic_grf

# isort: split

# Antiderivative pairs (DeepONet).
from ._antiderivative import antiderivative_pairs as antiderivative_pairs

# Minibatches.
from ._minibatch import Minibatches as Minibatches, minibatches as minibatches
