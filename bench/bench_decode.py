"""Live-output decoding: spinnlive's numpy decoders against spinnman's element iterator.

Builds N full live-output packets as the LPG sends them (64 32-bit keys, D + T timestamp,
262 bytes each), then decodes the same stream into numpy arrays of keys and timestamps with:

* spinnlive ``decode_data_packet`` per packet, then one concatenate;
* spinnlive ``decode_live_output`` (the flags-0x38 fast path the bridge's tick assembler uses)
  per packet, then one concatenate;
* spinnman ``read_eieio_data_message`` + ``next_element`` per event (what LiveEventConnection
  does), collecting keys and payloads into lists and then arrays.

Every method's output is checked against the others before timing counts. The best of several
repeats is reported; the figure of merit is the ratio to spinnman measured in the same run
(targets: >= 20 M events/s and >= 50x spinnman).

    .venv/bin/python bench/bench_decode.py [--packets 20000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable, Sequence

import numpy as np

from spinnlive.protocol import (
    EIEIOType,
    decode_data_packet,
    decode_live_output,
    encode_events,
)

Result = tuple[np.ndarray, np.ndarray]


def build_packets(n: int) -> list[bytes]:
    rng = np.random.default_rng(1)
    keys = (rng.integers(0, 1 << 20, size=(n, 64), dtype=np.uint32) << 4).astype(np.uint32)
    out = []
    for tick in range(n):
        [packet] = encode_events(keys[tick], eieio_type=EIEIOType.KEY_32_BIT, payload_prefix=tick,
                                 is_time=True, max_per_packet=64)
        out.append(packet)
    assert all(len(p) == 262 for p in out)
    return out


def per_packet(packets: Sequence[bytes]) -> Result:
    decoded = [decode_data_packet(p) for p in packets]
    keys = np.concatenate([d.keys for d in decoded])
    times = np.repeat(np.array([d.timestamp for d in decoded], dtype=np.uint32),
                      [len(d.keys) for d in decoded])
    return keys, times


def live_output(packets: Sequence[bytes]) -> Result:
    decoded = [decode_live_output(p) for p in packets]
    keys = np.concatenate([k for _, k in decoded])
    times = np.repeat(np.array([t for t, _ in decoded], dtype=np.uint32),
                      [len(k) for _, k in decoded])
    return keys, times


def with_spinnman(packets: Sequence[bytes]) -> Result:
    from spinnman.messages.eieio import read_eieio_data_message

    keys: list[int] = []
    times: list[int] = []
    for p in packets:
        msg = read_eieio_data_message(p, 0)
        while msg.is_next_element:
            element = msg.next_element
            keys.append(element.key)
            times.append(element.payload)
    return np.array(keys, dtype=np.uint32), np.array(times, dtype=np.uint32)


def best_of(fn: Callable[[Sequence[bytes]], Result], packets: Sequence[bytes],
            repeats: int) -> tuple[float, Result]:
    best, result = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn(packets)
        best = min(best, time.perf_counter() - t)
    assert result is not None
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--spinnman-repeats", type=int, default=3)
    args = parser.parse_args()

    packets = build_packets(args.packets)
    events = 64 * len(packets)
    methods: list[tuple[str, Callable[[Sequence[bytes]], Result], int]] = [
        ("spinnlive decode_data_packet", per_packet, args.repeats),
        ("spinnlive decode_live_output", live_output, args.repeats),
    ]
    if importlib.util.find_spec("spinnman") is not None:
        methods.append(("spinnman read_eieio_data_message", with_spinnman,
                        args.spinnman_repeats))
    else:
        print("spinnman not installed: no reference to compare against")

    rows = []
    reference: Result | None = None
    for name, fn, repeats in methods:
        seconds, result = best_of(fn, packets, repeats)
        if reference is None:
            reference = result
        np.testing.assert_array_equal(result[0], reference[0], err_msg=name)
        np.testing.assert_array_equal(result[1], reference[1], err_msg=name)
        rows.append((name, seconds, events / seconds))

    peer = rows[-1][2] if rows[-1][0].startswith("spinnman") else None
    print(f"{len(packets)} packets x 64 events = {events} events, 262-byte LPG packets, "
          f"best of {args.repeats} (spinnman {args.spinnman_repeats})")
    print(f"{'method':<36}{'seconds':>10}{'M events/s':>13}{'us/packet':>11}{'x spinnman':>12}")
    for name, seconds, rate in rows:
        ratio = f"{rate / peer:.1f}" if peer else "-"
        print(f"{name:<36}{seconds:>10.4f}{rate / 1e6:>13.2f}"
              f"{seconds / len(packets) * 1e6:>11.2f}{ratio:>12}")
    print("targets: >= 20 M events/s and >= 50x spinnman")


if __name__ == "__main__":
    main()
