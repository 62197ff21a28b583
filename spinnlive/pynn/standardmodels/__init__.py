"""Standard PyNN models as spinnlive provides them: cells, current sources, synapses.

Each class subclasses PyNN's standard model and adds one declarative table: the translation to the
kernel's native names (identity: the kernels use PyNN names and units) and, for cells, the name of
the kernel model and the map from PyNN recordables to kernel state variables.
"""

from .cells import *  # noqa: F403
from .composed import *  # noqa: F403
from .electrodes import *  # noqa: F403
from .spynnaker_cells import *  # noqa: F403
from .synapses import *  # noqa: F403
