"""Domains (intervals, boxes, space-time cylinders) and point samplers."""

from ._geometry import (
    AbstractDomain as AbstractDomain,
    Box as Box,
    Interval as Interval,
    SpaceTime as SpaceTime,
)
from ._sample import (
    contains as contains,
    sample_boundary as sample_boundary,
    sample_initial as sample_initial,
    sample_interior as sample_interior,
)
from ._sampler import PointSampler as PointSampler, sampler as sampler
from ._sequences import (
    SEQUENCES as SEQUENCES,
    grid as grid,
    halton as halton,
    latin_hypercube as latin_hypercube,
    uniform as uniform,
)
from ._sobol import sobol as sobol
