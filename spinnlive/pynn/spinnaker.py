"""``pyNN.spiNNaker`` on spinnlive: :mod:`spinnlive.pynn`'s objects, with sPyNNaker's meaning
where a name means something else on sPyNNaker than in PyNN.

One name differs: ``Izhikevich`` is sPyNNaker's (``IzkCurrExpBase``: exponential current
synapses, ``tau_syn_E``/``tau_syn_I``, 1 nA moving ``v`` by 1 mV/ms), where PyNN's standard
Izhikevich, as pyNN.nest runs it, has delta synapses and reads ``i_offset`` as 1000 pA; a
script written for SpiNNaker would otherwise drive its cells a thousand times harder without
a word. :func:`~spinnlive.pynn.spinnaker_compat.install` makes this module ``pyNN.spiNNaker``.
"""

from __future__ import annotations

import spinnlive.pynn as _front_end

from .standardmodels.spynnaker_cells import IzkCurrExpBase

globals().update({name: value for name, value in vars(_front_end).items()
                  if not name.startswith("__") and name != "spinnaker"})
Izhikevich = IzkCurrExpBase
