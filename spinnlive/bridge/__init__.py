"""The bridge: SpiNNaker live I/O (EIEIO over UDP) <-> ZeroMQ topics, for any toolchain.

``Bridge`` (service.py) listens for the toolchain's database notifications, reads each run's
database into a :class:`~spinnlive.bridge.session.Session`, points the LPG IP tags at itself and
then streams: live output to ``spikes/<label>`` (live_output.py, publisher.py), ``inject/<label>``
and ``rates/<label>`` to the board (injection.py), a JSON description on the discovery socket,
``lifecycle`` and ``stats`` topics. docs/wire-format.md is the contract with clients, :mod:`spinnlive.wire` its code;
:mod:`spinnlive.client` is the Python one. ``python -m spinnlive.bridge`` runs one.
"""

from spinnlive.bridge.config import BridgeConfig, OverflowPolicy
from spinnlive.bridge.service import Bridge
from spinnlive.bridge.session import Direction, Population, Session
from spinnlive.bridge.stats import BridgeStatistics, StreamStatistics, UdpStatistics

__all__ = [
    "Bridge", "BridgeConfig", "BridgeStatistics", "Direction", "OverflowPolicy", "Population", "Session",
    "StreamStatistics", "UdpStatistics",
]
