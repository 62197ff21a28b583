"""Live output as the LPG sends it: formats, packet sizes, caps, targets, read back by spinnman."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from spinnlive.database import IODatabase, write_database
from spinnlive.engine.live_output import LiveOutput, TagTable, default_tag_targets
from spinnlive.engine.mapping import Mapping, map_network
from spinnlive.engine.vertices import AppVertex, LiveOutputParameters, LiveOutputRequest
from spinnlive.errors import ConfigurationError
from spinnlive.protocol.eieio import EIEIOType, PrefixType, decode_data_packet, decode_live_output
from spinnlive.protocol.sdp import unwrap_sdp

BOARD = "127.0.0.1"


def mapping_with(**parameters: object) -> Mapping:
    params = LiveOutputParameters(**parameters)  # type: ignore[arg-type]
    return map_network([AppVertex("pop", 300, "neuron"), AppVertex("other", 50, "neuron")],
                       board_address=BOARD,
                       live_outputs=[LiveOutputRequest("pop", params),
                                     LiveOutputRequest("other", params)])


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


def emit(mapping: Mapping, receiver: socket.socket, tick: int, spikes: dict[str, np.ndarray]
         ) -> tuple[list[bytes], LiveOutput]:
    """Emit one tick through a tag pointed at ``receiver``; return what arrived."""
    tags = TagTable()
    tags.load(default_tag_targets(mapping))
    tags.set(mapping.lpgs[0].tag, receiver.getsockname())
    live = LiveOutput(mapping, tags)
    live.emit(tick, spikes)
    sent = live.statistics().packets_sent
    live.close()
    return [receiver.recv(2048) for _ in range(sent)], live


def test_default_packets_are_key32_with_timestamp_prefix_64_keys_and_262_bytes(
        receiver: socket.socket, tmp_path) -> None:  # type: ignore[no-untyped-def]
    mapping = mapping_with()
    fired = {"pop": np.arange(0, 300, 3), "other": np.array([49, 0])}
    packets, live = emit(mapping, receiver, 1234, fired)
    assert [len(p) for p in packets] == [262, 2 + 4 + 4 * (102 - 64)]
    assert all(p[1] == 0x38 for p in packets)  # KEY_32_BIT, D + T
    stamps, keys = zip(*(decode_live_output(p) for p in packets))
    assert stamps == (1234, 1234)
    # the keys are the database's events: translate them back with the database itself
    path = write_database(mapping.to_database_records(), tmp_path)
    with IODatabase(path) as db:
        found = db.key_table(["pop", "other"]).lookup(np.concatenate(keys))
    assert found.known.all()
    labels = np.array(["pop", "other"])[found.label_index]
    assert list(zip(labels.tolist(), found.atom.tolist())) == (
        [("pop", a) for a in fired["pop"].tolist()] + [("other", 49), ("other", 0)])
    stats = live.statistics()
    assert (stats.ticks, stats.packets_sent, stats.events_sent) == (1, 2, 102)
    assert stats.bytes_sent == sum(map(len, packets)) and stats.dropped_packets == {}


def test_spinnman_reads_our_packets_as_the_lpg_s(receiver: socket.socket) -> None:
    eieio = pytest.importorskip("spinnman.messages.eieio")
    mapping = mapping_with()
    (packet,), _ = emit(mapping, receiver, 7, {"pop": np.array([5, 256, 299])})
    message = eieio.read_eieio_data_message(packet, 0)
    elements = []
    while message.is_next_element:
        elements.append(message.next_element)
    assert [(e.key, e.payload, e.payload_is_timestamp) for e in elements] == [
        (int(k), 7, True) for k in mapping.keys("pop")[[5, 256, 299]]]


@pytest.mark.parametrize(("etype", "stamps"), [
    (etype, stamps) for etype in EIEIOType for stamps in (False, True)
    if etype.has_payload or not stamps])  # a key-only type carries its stamp in the prefix
def test_every_message_type_follows_the_lpg_c_rules(receiver: socket.socket, etype: EIEIOType,
                                                     stamps: bool) -> None:
    mapping = mapping_with(message_type=etype, use_payload_prefix=False,
                           payload_as_time_stamps=stamps, right_shift=4)
    tick = 70000  # past 16 bits: 16-bit types carry it truncated
    fired = np.arange(300)
    packets, _ = emit(mapping, receiver, tick, {"pop": fired})
    per_packet = 256 // etype.element_bytes
    assert [p[0] for p in packets] == [min(per_packet, 300 - i) for i in range(0, 300, per_packet)]
    decoded = [decode_data_packet(p) for p in packets]
    keys = np.concatenate([d.keys for d in decoded])
    full = mapping.keys("pop")[fired]
    wide = etype.key_bytes == 4
    np.testing.assert_array_equal(keys, full if wide else (full >> 4) & 0xFFFF)  # shift: 16-bit
    if etype.has_payload:
        payloads = np.concatenate([d.payloads for d in decoded])
        expected = (tick & (0xFFFF_FFFF if wide else 0xFFFF)) if stamps else 0
        np.testing.assert_array_equal(payloads, expected)
    assert all(bool(p[1] & 0x10) == stamps for p in packets)


def test_prefix_translate_keys_and_fixed_payload_prefix(receiver: socket.socket) -> None:
    mapping = mapping_with(message_type=EIEIOType.KEY_16_BIT, use_prefix=True, key_prefix=0x1234,
                           prefix_type=PrefixType.UPPER_HALF_WORD, translate_keys=True,
                           payload_as_time_stamps=False, payload_prefix=0xBEEF)
    (packet,), _ = emit(mapping, receiver, 3, {"pop": np.array([1, 299]),
                                               "other": np.array([7])})
    header = decode_data_packet(packet).header
    assert (header.prefix, header.prefix_type, header.payload_prefix, header.is_time) == (
        0x1234, PrefixType.UPPER_HALF_WORD, 0xBEEF, False)
    wire = np.frombuffer(packet, "<u2", 3, 2 + 2 + 2)
    np.testing.assert_array_equal(wire, [1, 299, 7])  # atom ids; the prefix leaves them alone
    with pytest.raises(ConfigurationError, match="timestamps"):
        LiveOutput(mapping_with(use_payload_prefix=False), TagTable())
    with pytest.raises(ConfigurationError, match="not both"):
        LiveOutput(mapping_with(message_type=EIEIOType.KEY_PAYLOAD_32_BIT), TagTable())


def test_packets_over_the_cap_are_counted_not_sent(receiver: socket.socket) -> None:
    mapping = mapping_with(number_of_packets_sent_per_time_step=1)
    packets, live = emit(mapping, receiver, 1, {"pop": np.arange(200)})
    assert len(packets) == 1 and packets[0][0] == 64
    stats = live.statistics()
    assert stats.dropped_packets == {"packet_cap": 3}
    assert stats.dropped_events == {"packet_cap": 200 - 64}


def test_targets_before_and_after_the_tag_is_set(receiver: socket.socket) -> None:
    host, port = receiver.getsockname()
    silent = mapping_with()  # host 0.0.0.0: nowhere to send until a client sets the tag
    tags = TagTable()
    tags.load(default_tag_targets(silent))
    with LiveOutput(silent, tags) as live:
        live.emit(0, {"pop": np.arange(10)})
        assert live.statistics().dropped_events == {"no_target": 10}
        tags.set(silent.lpgs[0].tag, (host, port))
        live.emit(1, {"pop": np.arange(10)})
        assert decode_live_output(receiver.recv(2048))[0] == 1
        tags.set(silent.lpgs[0].tag, (host, port), strip_sdp=False)  # SDP header kept
        live.emit(2, {"pop": np.array([4])})
        sdp, body = unwrap_sdp(receiver.recv(2048))
        assert (sdp.flags, sdp.tag, body[1]) == (0x07, silent.lpgs[0].tag, 0x38)
        stamp, keys = decode_live_output(body)
        assert stamp == 2 and keys.tolist() == silent.keys("pop")[[4]].tolist()
    configured = mapping_with(host="localhost", port=port)  # the host itself, at once
    tags.load(default_tag_targets(configured))
    with LiveOutput(configured, tags) as live:
        live.emit(9, {"other": np.array([3])})
        stamp, keys = decode_live_output(receiver.recv(2048))
        assert stamp == 9 and keys.tolist() == configured.keys("other")[[3]].tolist()
        assert live.local_address[0] == BOARD  # sent from the board's address


@pytest.mark.skipif(sys.platform != "linux", reason="refusals are read with Linux's IP_RECVERR")
@pytest.mark.parametrize("strip", [True, False])
def test_output_to_a_closed_port_is_counted_refused_and_the_rest_still_arrives(
        receiver: socket.socket, closed_port: int, strip: bool) -> None:
    mapping = map_network([AppVertex("pop", 300, "neuron"), AppVertex("other", 50, "neuron")],
                          board_address=BOARD,
                          live_outputs=[LiveOutputRequest("pop", LiveOutputParameters()),
                                        LiveOutputRequest("other",
                                                          LiveOutputParameters(port=9))])
    tag_of = {lpg.sources[0]: lpg.tag for lpg in mapping.lpgs}
    tags = TagTable()
    tags.load(default_tag_targets(mapping))
    tags.set(tag_of["pop"], ("127.0.0.1", closed_port), strip_sdp=strip)  # a killed client's
    tags.set(tag_of["other"], receiver.getsockname())
    ticks, pop_ids = 40, np.arange(100)  # 2 packets a tick (64 + 36 events)
    with LiveOutput(mapping, tags) as live:
        for tick in range(ticks):
            live.emit(tick, {"pop": pop_ids, "other": np.array([tick % 50])})
        live.collect_refusals()
        stats = live.statistics()
        arrived = [decode_live_output(receiver.recv(2048)) for _ in range(ticks)]
    assert [(stamp, keys.size) for stamp, keys in arrived] == [(t, 1) for t in range(ticks)]
    assert stats.packets_sent == 3 * ticks and stats.events_sent == 101 * ticks
    assert stats.dropped_packets == {"refused": 2 * ticks}
    assert stats.dropped_events == {"refused": 100 * ticks}
