"""Closed-loop adapters (installed as ``spinnlive.adapters``).

The array code that turns values and sensor events into spikes and spikes back into values, for
closed loops with robots, sensors and simulators. Everything here is pure numpy: no sockets, no
clock. The closed-loop adapters that move these arrays through the ZeroMQ bridge build on it.

* :mod:`.encoding`: values -> rates (rate code, Gaussian / von Mises tuning curves), rates ->
  Poisson spikes, "k most active" ids for injection.
* :mod:`.decoding`: a sliding spike-count window per population, and the inverse decoders (rate,
  population vector, push-pull motor pair).
* :mod:`.event_camera`: SPIF / AEStream event words and UDP payloads <-> arrays <-> neuron ids
  of a 2-D population; a moving-bar event generator.

The closed-loop adapters are ZeroMQ clients of the bridge (any of them could run in another
process or on another host; none reaches into the engine), imported from their modules so that
their optional dependencies stay optional:

* :mod:`.gym`: a gymnasium environment in closed loop with a network (``GymLoop``).
* :mod:`.event_stream`: a live event camera (AEStream UDP output) into a 2-D SpikeInjector.
* :mod:`.nest_cosim`: a NEST network stepped in real time, exchanging spikes both ways.
* :mod:`.record_replay`: record every topic of a run; replay its inputs into a new run.
* :mod:`.reconnecting`: what they share (over :mod:`spinnlive.client`): following a bridge's runs, and
  resuming when the bridge or the network goes away and comes back (logged).
"""

from .decoding import PushPull, SpikeWindow, WindowStatistics, decode_rates, population_vector
from .encoding import RateCode, TuningCurves, k_most_active, poisson_spikes
from .event_camera import (
    EventBatch,
    EventCameraMap,
    decode_datagram_untrusted,
    encode_datagrams,
    moving_bar,
    spif_fields,
    spif_words,
)

__all__ = [
    "EventBatch",
    "EventCameraMap",
    "PushPull",
    "RateCode",
    "SpikeWindow",
    "TuningCurves",
    "WindowStatistics",
    "decode_datagram_untrusted",
    "decode_rates",
    "encode_datagrams",
    "k_most_active",
    "moving_bar",
    "poisson_spikes",
    "population_vector",
    "spif_fields",
    "spif_words",
]
