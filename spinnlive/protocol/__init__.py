"""The sans-IO protocol layer: SpiNNaker live-I/O bytes <-> typed records and numpy arrays.

Modules: :mod:`.eieio` (data packets), :mod:`.commands` (command packets), :mod:`.sdp` (SDP
framing and the IP-tag SCP subset), :mod:`.stream` (a counting decoder for untrusted streams),
:mod:`.keys` (key <-> atom tables). Nothing here opens a socket, reads a clock or starts a thread;
decoders of network bytes raise only :class:`~spinnlive.errors.RemoteProtocolError`, encoders
refuse impossible requests with :class:`~spinnlive.errors.LocalProtocolError`.
"""

from typing import TYPE_CHECKING

from spinnlive.lazy import exports

if TYPE_CHECKING:
    from spinnlive.protocol.commands import (
        Command,
        Database,
        EIEIOCommandId,
        EventPadding,
        EventStop,
        HostDataRead,
        HostDataReadAck,
        HostSendSequencedData,
        ReadAck,
        ReadRequest,
        SpinnakerRequestBuffers,
        SpinnakerRequestReadData,
        StartResumeNotification,
        StartSendingRequests,
        StopPauseNotification,
        StopSendingRequests,
        decode_command,
        encode_command,
        is_command_packet,
    )
    from spinnlive.protocol.eieio import (
        DataPacket,
        EIEIODataHeader,
        EIEIOType,
        PrefixSemantics,
        PrefixType,
        decode_data_packet,
        decode_live_output,
        encode_events,
        max_events,
    )
    from spinnlive.protocol.sdp import (
        IPTagSetRequest,
        SCPReply,
        SCPRequest,
        SDPFlag,
        SDPHeader,
        decode_iptag_set,
        decode_scp_reply,
        decode_scp_request,
        encode_iptag_set,
        encode_scp_reply,
        injection_datagram,
        iptag_set_reply,
        unwrap_sdp,
        wrap_sdp,
    )

#: imported on first use: the database needs only ``keys``, a run without live I/O no
#: frame layout (spinnlive.lazy)
__getattr__ = exports(__name__, {
    "commands": ("Command", "Database", "EIEIOCommandId", "EventPadding", "EventStop",
        "HostDataRead", "HostDataReadAck", "HostSendSequencedData", "ReadAck", "ReadRequest",
        "SpinnakerRequestBuffers", "SpinnakerRequestReadData", "StartResumeNotification",
        "StartSendingRequests", "StopPauseNotification", "StopSendingRequests", "decode_command",
        "encode_command", "is_command_packet"),
    "eieio": ("DataPacket", "EIEIODataHeader", "EIEIOType", "PrefixSemantics", "PrefixType",
        "decode_data_packet", "decode_live_output", "encode_events", "max_events"),
    "sdp": ("IPTagSetRequest", "SCPReply", "SCPRequest", "SDPFlag", "SDPHeader",
        "decode_iptag_set", "decode_scp_reply", "decode_scp_request", "encode_iptag_set",
        "encode_scp_reply", "injection_datagram", "iptag_set_reply", "unwrap_sdp", "wrap_sdp"),
})

__all__ = [
    "Command", "DataPacket", "Database", "EIEIOCommandId", "EIEIODataHeader", "EIEIOType",
    "EventPadding", "EventStop", "HostDataRead", "HostDataReadAck", "HostSendSequencedData",
    "IPTagSetRequest", "PrefixSemantics", "PrefixType", "ReadAck", "ReadRequest", "SCPReply",
    "SCPRequest", "SDPFlag", "SDPHeader", "SpinnakerRequestBuffers", "SpinnakerRequestReadData",
    "StartResumeNotification", "StartSendingRequests", "StopPauseNotification",
    "StopSendingRequests", "decode_command",
    "decode_data_packet", "decode_iptag_set", "decode_live_output",
    "decode_scp_reply", "decode_scp_request", "encode_command", "encode_events",
    "encode_iptag_set", "encode_scp_reply", "injection_datagram", "iptag_set_reply",
    "is_command_packet", "max_events", "unwrap_sdp", "wrap_sdp",
]
