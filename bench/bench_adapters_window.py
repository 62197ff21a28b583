"""Hot paths of spinnlive.adapters, each next to a naive peer measured in the same run.

- ``SpikeWindow.add`` (ring of (tick, id) plus running counts) against a dense peer that keeps a
  count row per tick and re-sums the whole window every tick;
- decoding AEStream/SPIF event datagrams into numpy arrays.

Run: ``python bench/bench_adapters_window.py``
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from spinnlive.adapters import SpikeWindow, decode_datagram_untrusted, encode_datagrams, moving_bar

WINDOW = 100


def per_call(fn: Callable[[int], object], n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n


def window_costs(n_neurons: int, batch: int, rng: np.random.Generator) -> tuple[float, float]:
    batches = [rng.integers(0, n_neurons, batch) for _ in range(64)]
    window = SpikeWindow(n_neurons, WINDOW)
    cost = per_call(lambda i: window.add(i, batches[i % 64]), 3000)
    dense = np.zeros((WINDOW, n_neurons), np.int64)

    def naive(i: int) -> np.ndarray:
        row = dense[i % WINDOW]
        row[:] = 0
        np.add.at(row, batches[i % 64], 1)
        return dense.sum(axis=0)

    return cost, per_call(naive, 300 if n_neurons > 10_000 else 3000)


def main() -> None:
    rng = np.random.default_rng(0)
    for n_neurons in (1000, 100_000):
        for batch in (10, 100, 1000):
            cost, naive = window_costs(n_neurons, batch, rng)
            print(f"SpikeWindow n={n_neurons:>6} batch={batch:>4}: {cost * 1e6:7.1f} us/tick, "
                  f"dense recount {naive * 1e6:8.1f} us/tick, ratio {naive / cost:6.1f}x")
    events = moving_bar(640, 480)
    grams = encode_datagrams(events)
    t0 = time.perf_counter()
    for gram in grams:
        decode_datagram_untrusted(gram)
    per_datagram = time.perf_counter() - t0
    print(f"decode {len(grams)} datagrams: {per_datagram / len(grams) * 1e6:.1f} us each, "
          f"{len(events) / per_datagram / 1e6:.2f} M events/s")
    big = b"".join(grams)
    t0 = time.perf_counter()
    decode_datagram_untrusted(big)
    whole = time.perf_counter() - t0
    print(f"one {len(big) // 4}-word payload: {len(events) / whole / 1e6:.1f} M events/s")


if __name__ == "__main__":
    main()
