"""Sampling strategies: who owns the collocation points, as `(init, update)` pairs."""

from ._base import (
    SamplingContext as SamplingContext,
    SamplingStrategy as SamplingStrategy,
)
from ._combine import combine as combine
from ._marching import time_marching as time_marching, window_end as window_end
from ._residual import (
    choose as choose,
    rad as rad,
    rar_d as rar_d,
    residual_density as residual_density,
)
