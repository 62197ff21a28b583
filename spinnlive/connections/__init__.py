"""sPyNNaker's live connections, for programs that do not have sPyNNaker installed.

``live_events`` holds the connection classes (the names sPyNNaker 7.4.1 exports, so a script
can swap its import for this package); ``receiver`` is one run step's receive side.
"""

from spinnlive.connections.live_events import (
    LiveEventConnection,
    SpynnakerLiveSpikesConnection,
    SpynnakerPoissonControlConnection,
)

__all__ = ["LiveEventConnection", "SpynnakerLiveSpikesConnection",
           "SpynnakerPoissonControlConnection"]
