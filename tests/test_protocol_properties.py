"""Property tests: encoders and decoders are inverse, and decoders of network bytes raise
nothing but RemoteProtocolError on any input (whole, and every prefix of valid packets)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinnlive.errors import RemoteProtocolError
from spinnlive.protocol import commands as cm
from spinnlive.protocol import sdp
from spinnlive.protocol.eieio import (
    EIEIOType,
    PrefixSemantics,
    PrefixType,
    decode_data_packet,
    decode_live_output,
    encode_events,
)

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def event_batches(draw):
    """Flags, and full keys/payloads built from wire values by section 1.3's rules."""
    etype = draw(st.sampled_from(list(EIEIOType)))
    width = 8 * etype.key_bytes
    semantics = draw(st.sampled_from(list(PrefixSemantics)))
    prefix = draw(st.none() | st.integers(0, 0xFFFF))
    prefix_type = draw(st.sampled_from(list(PrefixType)))
    pprefix = draw(st.none() | st.integers(0, (1 << width) - 1))
    n = draw(st.integers(0, 300))
    wire = np.array(draw(st.lists(st.integers(0, (1 << width) - 1), min_size=n, max_size=n)),
                    dtype=np.uint64)
    if prefix is None:
        keys = wire
    elif prefix_type == PrefixType.UPPER_HALF_WORD:
        keys = wire | (prefix << 16)
    elif width == 16 and semantics is PrefixSemantics.ON_CHIP:
        keys = (wire << 16) | prefix
    else:
        keys = wire | prefix
    payloads = None
    if etype.has_payload:
        pw = np.array(draw(st.lists(st.integers(0, (1 << width) - 1), min_size=n, max_size=n)),
                      dtype=np.uint64)
        payloads = pw | (pprefix or 0)
    elif pprefix is not None and draw(st.booleans()):
        payloads = np.full(n, pprefix, dtype=np.uint64)
    return dict(keys=keys.astype(np.uint32),
                payloads=None if payloads is None else payloads.astype(np.uint32),
                eieio_type=etype, prefix=prefix, prefix_type=prefix_type, payload_prefix=pprefix,
                is_time=draw(st.booleans()), tag=draw(st.integers(0, 3)), semantics=semantics,
                max_per_packet=draw(st.none() | st.integers(1, 31)))


@SETTINGS
@given(event_batches())
def test_encode_then_decode_is_identity(batch):
    keys, payloads = batch.pop("keys"), batch.pop("payloads")
    packets = encode_events(keys, payloads, **batch)
    decoded = [decode_data_packet(data, semantics=batch["semantics"]) for data in packets]
    empty = [np.zeros(0, dtype=np.uint32)]  # no events: no packets
    np.testing.assert_array_equal(np.concatenate(empty + [p.keys for p in decoded]), keys)
    for packet in decoded:
        h = packet.header
        assert (h.eieio_type, h.prefix, h.payload_prefix, h.is_time, h.tag) == (
            batch["eieio_type"], batch["prefix"], batch["payload_prefix"], batch["is_time"],
            batch["tag"])
        if payloads is None and batch["payload_prefix"] is None:
            assert packet.payloads is None
        elif payloads is None:
            assert set(packet.payloads.tolist()) <= {batch["payload_prefix"]}
    if payloads is not None:
        np.testing.assert_array_equal(np.concatenate(empty + [p.payloads for p in decoded]),
                                      payloads)


COMMANDS = st.one_of(
    st.builds(cm.Database, path=st.none() | st.text(max_size=40)),
    st.sampled_from([cm.EventPadding(), cm.EventStop(), cm.StopSendingRequests(),
                     cm.StartSendingRequests(), cm.StopPauseNotification(),
                     cm.StartResumeNotification()]),
    st.builds(cm.SpinnakerRequestBuffers, x=st.integers(0, 255), y=st.integers(0, 255),
              p=st.integers(0, 31), region_id=st.integers(0, 15),
              sequence_no=st.integers(0, 255), space_available=st.integers(0, 2**32 - 1)),
    st.builds(cm.SpinnakerRequestReadData, x=st.integers(0, 255), y=st.integers(0, 255),
              p=st.integers(0, 31), sequence_no=st.integers(0, 255),
              requests=st.lists(st.builds(cm.ReadRequest, channel=st.integers(0, 255),
                                          region_id=st.integers(0, 255),
                                          start_address=st.integers(0, 2**32 - 1),
                                          space_to_be_read=st.integers(0, 2**32 - 1)),
                                max_size=7).map(tuple)),
    st.builds(cm.HostDataRead, sequence_no=st.integers(0, 255),
              acks=st.lists(st.builds(cm.ReadAck, channel=st.integers(0, 255),
                                      region_id=st.integers(0, 255),
                                      space_read=st.integers(0, 2**32 - 1)),
                            max_size=7).map(tuple)),
    st.builds(cm.HostDataReadAck, sequence_no=st.integers(0, 255)),
    st.builds(cm.HostSendSequencedData, region_id=st.integers(0, 255),
              sequence_no=st.integers(0, 255),
              packet=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20).map(
                  lambda ks: encode_events(ks, eieio_type=EIEIOType.KEY_32_BIT)[0])),
)


@SETTINGS
@given(COMMANDS)
def test_command_round_trip(cmd):
    assert cm.decode_command(cm.encode_command(cmd)) == cmd


DECODERS = [decode_data_packet, decode_live_output,
            cm.decode_command, sdp.unwrap_sdp, sdp.decode_scp_request, sdp.decode_scp_reply,
            sdp.decode_iptag_set,
            lambda d: decode_data_packet(d, semantics=PrefixSemantics.SPINNMAN)]


def _only_remote_errors(data: bytes) -> None:
    for decode in DECODERS:
        try:
            decode(data)
        except RemoteProtocolError:
            pass


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_remote_errors(data):
    _only_remote_errors(data)


@settings(max_examples=60, deadline=None)
@given(st.one_of(event_batches().map(lambda b: encode_events(b.pop("keys"), b.pop("payloads"),
                                                             **b)[:1]),
                 COMMANDS.map(lambda c: [cm.encode_command(c)])),
       st.integers(0, 255))
def test_every_prefix_of_valid_packets_raises_only_remote_errors(packets, flip):
    for data in packets:
        for n in range(len(data) + 1):
            _only_remote_errors(data[:n])
        if data:
            corrupted = bytearray(data)
            corrupted[flip % len(data)] ^= 0xFF
            _only_remote_errors(bytes(corrupted))
    for data in (sdp.encode_iptag_set(sdp.IPTagSetRequest(x=1, y=2, tag=flip % 8)),):
        for n in range(len(data) + 1):
            _only_remote_errors(data[:n])
