"""A browser monitor for a running network: ``spinnlive monitor`` (docs/monitor.md).

It is a client of the bridge like any other (discovery, ``spikes/``, ``lifecycle``, ``stats``,
and the input topics for its controls), so it shows the embedded engine and a SpiNNaker machine
alike. :mod:`~spinnlive.monitor.frames` is the sans-IO frame format sent to the page;
:mod:`~spinnlive.monitor.server` the aiohttp server; ``static/`` the page itself.
"""

from spinnlive.monitor.frames import FrameBuilder, decode_frame
from spinnlive.monitor.server import Monitor, MonitorConfig

__all__ = ["FrameBuilder", "Monitor", "MonitorConfig", "decode_frame"]
