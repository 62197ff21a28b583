"""spinnlive's PyNN 0.13 backend: ``import spinnlive.pynn as sim``.

It follows pyNN.mock's layout (simulator, control, populations, projections, recording,
standardmodels) and adds what sPyNNaker scripts use: ``set_number_of_neurons_per_core``,
``external_devices``, ``Population.set(v=...)`` as initialisation, positive inhibitory weights.
:mod:`spinnlive.pynn.spinnaker_compat` runs ``pyNN.spiNNaker`` scripts unchanged.
"""

import importlib
from typing import Any

from pyNN import errors, random, space  # noqa: F401
from pyNN.connectors import *  # noqa: F403
from pyNN.network import Network  # noqa: F401
from pyNN.random import GSLRNG, NumpyRNG, RandomDistribution  # noqa: F401
from pyNN.recording import *  # noqa: F403
from pyNN.space import (  # noqa: F401
    Cuboid,
    Grid2D,
    Grid3D,
    Line,
    RandomStructure,
    Space,
    Sphere,
    distance,  # noqa: F401
)

from . import extra_models  # noqa: F401
from . import unavailable as _unavailable
from .control import (  # noqa: F401
    end,
    get_current_time,
    get_machine,
    get_max_delay,
    get_min_delay,
    get_time_step,
    initialize,
    name,
    num_processes,
    rank,
    reset,
    run,
    run_for,
    run_until,
    set_allow_delay_extensions,
    set_number_of_neurons_per_core,
    set_number_of_synapse_cores,
    setup,
)
from .image_connectors import (  # noqa: F401
    Convolution,
    ConvolutionConnector,
    KernelConnector,
    PoolDense,
    PoolDenseConnector,
)
from .populations import Assembly, Population, PopulationView  # noqa: F401
from .procedural_api import connect, create, record, record_gsyn, record_v, set  # noqa: F401
from .projections import Projection  # noqa: F401
from .projections import Projection as SpiNNakerProjection  # noqa: F401
from .standardmodels import *  # noqa: F403
from .standardmodels.cells import SUPPORTED_CELL_TYPES


class NativeRNG(NumpyRNG):
    """PyNN's simulator-native generator: on spinnlive, a NumpyRNG (host-side draws, as
    sPyNNaker makes them)."""


def list_standard_models() -> list[str]:
    """Names of the cell types spinnlive can simulate."""
    return [cls.__name__ for cls in SUPPORTED_CELL_TYPES]


def __getattr__(attr: str) -> Any:
    """``sim.external_devices`` imports on first use: it brings the live connections, their
    database reader and the transport (asyncio), which a network without live I/O never needs."""
    if attr == "external_devices":  # import_module: ``from . import`` would ask this again
        return importlib.import_module(f"{__name__}.external_devices")
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


# every other name sPyNNaker's pyNN.spiNNaker exports: a stand-in that refuses clearly,
# unless a real implementation above took the name
_unavailable.install(globals(), {**_unavailable.TOP_LEVEL, **_unavailable.PYNN_MODELS})
