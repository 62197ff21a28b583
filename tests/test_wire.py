"""spinnlive.wire back to back, no sockets: what one side encodes the other decodes, and every
frame that breaks docs/wire-format.md is refused with a reason."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinnlive.errors import LocalProtocolError, RemoteProtocolError
from spinnlive.wire import (
    FLAG_DEADLINE,
    HEADER,
    Header,
    Inject,
    InputRejected,
    Notice,
    Ready,
    SetRates,
    SpikeBatch,
    decode_input,
    decode_output,
    encode_input,
    new_sync_token,
)
from spinnlive.wire.output import encode_json, json_frames, spike_frames
from spinnlive.wire.topics import label_of

labels = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1,
                 max_size=20)
u32 = st.integers(0, 2**32 - 1)
id_lists = st.lists(u32, max_size=300)


@given(labels, u32, u32, u32, id_lists, st.sampled_from([0, FLAG_DEADLINE]))
def test_spike_batches_round_trip(label, epoch, tick, sequence, ids, flags):
    topic = f"spikes/{label}".encode()
    frames = spike_frames(topic, epoch, tick, sequence, np.array(ids, dtype=np.uint32), flags)
    message = decode_output([frames[0], frames[1], frames[2].tobytes()])
    assert isinstance(message, SpikeBatch)
    assert message.label == label and message.topic == topic
    assert message.header == Header(flags, epoch, tick, sequence, len(ids))
    assert message.ids.tolist() == ids


@given(st.sampled_from([b"lifecycle", b"stats", b"sync/x-1/"]), u32, u32,
       st.dictionaries(st.text(max_size=8), st.integers(), max_size=5))
def test_json_messages_round_trip(topic, epoch, sequence, body):
    message = decode_output(list(json_frames(topic, epoch, sequence, encode_json(body))))
    assert isinstance(message, Notice)
    assert message.body == body and message.header.epoch == epoch
    assert message.header.is_json and message.is_sync == topic.startswith(b"sync/")


@given(labels, id_lists, st.none() | u32)
def test_inject_round_trips(label, ids, tick):
    message = decode_input(encode_input(Inject(label, np.array(ids, np.uint32), tick)))
    assert isinstance(message, Inject)
    assert (message.label, message.ids.tolist(), message.tick) == (label, ids, tick)


@given(labels, st.lists(st.tuples(u32, st.floats(0, 65535, width=32)), max_size=100))
def test_rates_round_trip(label, pairs):
    ids = np.array([i for i, _ in pairs], np.uint32)
    hz = np.array([r for _, r in pairs], np.float32)
    message = decode_input(encode_input(SetRates(label, ids, hz)))
    assert isinstance(message, SetRates) and message.label == label
    assert message.ids.tolist() == ids.tolist() and message.rates.tolist() == hz.tolist()


@given(u32)
def test_ready_round_trips(epoch):
    assert decode_input(encode_input(Ready(epoch))) == Ready(epoch)


@pytest.mark.parametrize(("frames", "reason", "events"), [
    ([], "bad_payload", 0),
    ([b"spikes/exc", b"\0" * 4], "bad_topic", 1),  # one id carried: one event thrown away
    ([b"inject/", b"\0" * 8], "bad_topic", 2),  # no label
    ([b"inject/stim"], "bad_payload", 0),
    ([b"inject/stim", b"\0" * 5], "bad_payload", 0),  # no whole number of ids
    ([b"inject/stim", b"\0" * 8, b"\0" * 2], "bad_payload", 2),  # the tick is no u32
    ([b"rates/noise", b"\0" * 8], "bad_payload", 2),
    ([b"rates/noise", b"\0" * 8, b"\0" * 4], "bad_payload", 2),  # 2 ids, 1 rate
    ([b"ready", b"\0" * 3], "bad_payload", 0),
    ([b"ready"], "bad_payload", 0),
])
def test_malformed_input_is_rejected_with_a_reason_and_its_events(frames, reason, events):
    with pytest.raises(InputRejected) as caught:
        decode_input(frames)
    assert (caught.value.reason, caught.value.events) == (reason, events)


@pytest.mark.parametrize(("frames", "field"), [
    ([b"spikes/exc", HEADER.pack(1, 0, 0, 1, 2, 3, 2)], "frames"),
    ([b"spikes/exc", b"\x01" * 19, b""], "header"),
    ([b"spikes/exc", HEADER.pack(2, 0, 0, 1, 2, 3, 0), b""], "version"),
    ([b"spikes/exc", HEADER.pack(1, 0, 0, 1, 2, 3, 2), b"\0" * 4], "count"),
    ([b"stats", HEADER.pack(1, 0x80, 0, 1, 0, 3, 4), b"{}"], "count"),
    ([b"stats", HEADER.pack(1, 0x80, 0, 1, 0, 3, 2), b"[]"], "payload"),
    ([b"stats", HEADER.pack(1, 0x80, 0, 1, 0, 3, 2), b"{x"], "payload"),
    ([b"lifecycle", HEADER.pack(1, 0, 0, 1, 0, 3, 0), b""], "topic"),
])
def test_output_frames_that_break_the_contract_are_named(frames, field):
    with pytest.raises(RemoteProtocolError) as caught:
        decode_output(frames)
    assert caught.value.field == field


def test_bad_caller_input_is_refused_before_it_is_sent():
    with pytest.raises(LocalProtocolError, match="integers"):
        encode_input(Inject("stim", np.array([0.5])))
    with pytest.raises(LocalProtocolError, match="2 ids but 1 rates"):
        encode_input(SetRates("noise", np.array([0, 1]), np.array([1.0], np.float32)))
    with pytest.raises(LocalProtocolError, match="u32"):
        encode_input(Inject("stim", np.array([0]), tick=-1))


def test_a_label_topic_is_matched_whole_never_by_its_prefix():
    assert label_of(b"spikes/motor2", "spikes/") == "motor2"
    assert label_of(b"spikes/", "spikes/") is None
    assert label_of(b"inject/motor", "spikes/") is None


def test_sync_tokens_are_never_prefixes_of_each_other():
    tokens = [new_sync_token("t") for _ in range(20)]
    assert len(set(tokens)) == 20
    assert not any(a != b and b.startswith(a) for a in tokens for b in tokens)
    assert all(t.startswith(b"sync/") and t.endswith(b"/") for t in tokens)


def test_the_header_is_the_specs_struct():
    assert (HEADER.format, HEADER.size) == ("<BBHIIII", 20)
    frames = json_frames(b"stats", 7, 9, b"{}")
    assert frames[1] == bytes([1, 0x80, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0])
    assert json.loads(frames[2]) == {}
