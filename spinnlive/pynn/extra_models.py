"""sPyNNaker's ``extra_models`` that spinnlive has kernels for (``sim.extra_models.X``).

The plasticity rules sPyNNaker scripts use beyond PyNN's standard ones, with sPyNNaker's
parameter names and defaults; see :mod:`spinnlive.pynn.standardmodels.synapses` for the NEST
model each one runs as.
"""

from .standardmodels.synapses import (
    PfisterSpikeTriplet,
    SpikeNearestPairRule,
    Vogels2011Rule,
    WeightDependenceAdditiveTriplet,
)

__all__ = ["PfisterSpikeTriplet", "SpikeNearestPairRule", "Vogels2011Rule",
           "WeightDependenceAdditiveTriplet"]
