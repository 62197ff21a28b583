"""The ZeroMQ contract between the bridge and its clients, as sans-IO code (docs/wire-format.md).

What h11 is to HTTP and wsproto builds on, this package is to the bridge's topics: names
(:mod:`.topics`), the output header (:mod:`.header`), the frozen message records and their
frames both ways (:mod:`.output`, :mod:`.input`, with the input validation), and a
subscriber's loss ledger (:mod:`.ledger`). It opens no socket and reads no clock: the bridge's
publisher and input side, the client and the adapters only move frames through it, so the
spec changes in one place.
"""

from spinnlive.wire.header import FLAG_DEADLINE, FLAG_JSON, HEADER, HEADER_VERSION, Header
from spinnlive.wire.input import (
    Inject,
    InputMessage,
    InputRejected,
    Ready,
    SetRates,
    decode_input,
    encode_input,
    ids_array,
)
from spinnlive.wire.ledger import SpikeStreamStatistics, StreamLedger
from spinnlive.wire.output import Notice, OutputMessage, SpikeBatch, StateSnapshot, decode_output
from spinnlive.wire.topics import (
    DEFAULT_DISCOVERY,
    DEFAULT_INPUT,
    DEFAULT_PUBLISH,
    INJECT,
    LIFECYCLE,
    RATES,
    READY,
    SPIKES,
    STATS,
    SYNC,
    label_topic,
    new_sync_token,
)

__all__ = [
    "DEFAULT_DISCOVERY", "DEFAULT_INPUT", "DEFAULT_PUBLISH", "FLAG_DEADLINE", "FLAG_JSON",
    "HEADER", "HEADER_VERSION", "INJECT", "LIFECYCLE", "RATES", "READY", "SPIKES", "STATS",
    "SYNC", "Header", "Inject", "InputMessage", "InputRejected", "Notice", "OutputMessage",
    "Ready", "SetRates", "SpikeBatch", "SpikeStreamStatistics", "StateSnapshot", "StreamLedger",
    "decode_input",
    "decode_output", "encode_input", "ids_array", "label_topic", "new_sync_token",
]
