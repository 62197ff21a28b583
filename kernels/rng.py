"""A small seeded generator for the compiled kernels: xoshiro256** seeded by SplitMix64.

numba's own ``np.random`` is one hidden state per thread, so two groups drawing from it would
change each other's streams and a reset could not replay one group alone. Each group instead
owns a 4-word state array (int64 storage, uint64 arithmetic) that it passes to the kernels;
re-seeding it from the group's seed replays the same stream. ``exponential`` turns the top 53
bits into ``u`` in [0, 1) and returns ``-log1p(-u)`` (finite, >= 0); ``uniform`` returns ``u``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_MASK = (1 << 64) - 1


def seed_state(seed: int) -> np.ndarray:
    """The 4-word xoshiro state for ``seed`` (SplitMix64 expansion), as an int64 array."""
    x = int(seed) & _MASK
    words = []
    for _ in range(4):
        x = (x + 0x9E3779B97F4A7C15) & _MASK
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        words.append(z ^ (z >> 31))
    return np.array(words, dtype=np.uint64).view(np.int64)


@numba.njit(cache=True, inline="always")
def _rotl(x, k):  # pragma: no cover - compiled
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@numba.njit(cache=True, inline="always")
def next_u64(state):  # pragma: no cover - compiled
    """Advance ``state`` (int64[4], read as uint64) and return the next uint64."""
    s0, s1 = np.uint64(state[0]), np.uint64(state[1])
    s2, s3 = np.uint64(state[2]), np.uint64(state[3])
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0], state[1] = np.int64(s0), np.int64(s1)
    state[2], state[3] = np.int64(s2), np.int64(s3)
    return result


@numba.njit(cache=True, inline="always")
def exponential(state):  # pragma: no cover - compiled
    """One draw of Exp(1)."""
    u = (next_u64(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return -math.log1p(-u)


@numba.njit(cache=True, inline="always")
def uniform(state):  # pragma: no cover - compiled
    """One draw of U[0, 1) (the top 53 bits)."""
    return (next_u64(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
