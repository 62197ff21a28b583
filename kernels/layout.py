"""Generation counter of the groups' array layouts, so a network re-binds its typed list cheaply.

``Network`` hands every group's ``(_s, _k, _i)`` arrays to the compiled loop in a numba typed
list built once. A group that *replaces* one of those arrays (new spike times, constants that
stop or start being uniform) calls ``changed()``; a network compares ``generation()`` with the
value it bound at, an O(1) test per call instead of an identity check per group and array.
Changes *in place* need no call: the list holds the same arrays.
"""

from __future__ import annotations

_generation = [0]


def changed() -> None:
    """Some group replaced one of its kernel arrays."""
    _generation[0] += 1


def generation() -> int:
    return _generation[0]
