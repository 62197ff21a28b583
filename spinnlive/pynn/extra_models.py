"""``pyNN.spiNNaker.extra_models``: sPyNNaker 7.4.1's 24 extra names on spinnlive.

``IFCurDelta`` is spinnlive's ``IF_curr_delta`` (sPyNNaker's alias too); the two connectors are
spinnlive's (:mod:`spinnlive.pynn.connectors`). Each model or plasticity rule is the class of the
same name in :mod:`spinnlive.pynn.standardmodels` where spinnlive has a kernel for it, and
otherwise a stand-in that refuses construction naming the feature
(:mod:`spinnlive.pynn.unavailable`).
"""

from __future__ import annotations

from . import standardmodels as _standard
from . import unavailable as _unavailable
from .connectors import AllButMeConnector, OneToOneOffsetConnector
from .standardmodels.cells import IF_curr_delta as IFCurDelta

__all__ = ["IFCurDelta", "AllButMeConnector", "OneToOneOffsetConnector",
           *_unavailable.EXTRA_MODELS]

globals().update({name: getattr(_standard, name) for name in _unavailable.EXTRA_MODELS
                  if hasattr(_standard, name)})
_unavailable.install(globals(), _unavailable.EXTRA_MODELS)
