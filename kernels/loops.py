"""The tick loop compiled for the neuron models a network has, not for every model there is.

``ticks.run_ticks`` dispatches each neuron group to its model's kernel through
``ticks.neuron_step``, which names every model, so compiling (or loading) it means compiling
(or loading) all of them: ~2.6 of ~7 s of a cold compile, and a larger library to load in every
process. ``tick_loop(kernels)`` returns ``run_ticks`` with a ``neuron_step`` that knows only the
given ``{KIND: kernel}``: the same source (``ticks``'s own functions that reach
``neuron_step``, copied verbatim, so the two never drift apart), compiled in a generated module
whose dispatch names only those kernels; each compiles at its first call, so the threaded
``run_ticks_parallel`` costs nothing to a network that does not use it.

numba caches compiled code next to a function's source file, keyed by that file's time stamp,
so the generated module is a real file (``loops_dir()``), one per set of models, rewritten only
when its text changes. Its text carries a digest of every kernel source file (numba's cache
does not notice when a *called* function's file changes; this digest does), so editing any
kernel recompiles the loops that inline it. Where no directory is writable the generic
``ticks.run_ticks`` is used: slower to compile, the same arithmetic.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numba

from . import ticks

_HERE = Path(__file__).resolve().parent
_LOOPS: dict[tuple[tuple[tuple[int, str, str], ...], bool], Any] = {}
_DIGEST: list[str] = []
_LOCK = threading.Lock()  # a warm-up thread and the network being built may ask at once
#: the functions of ``ticks`` that call ``neuron_step`` or the plasticity entry points
#: (directly or not), copied verbatim
COPIED = ("_plastic_spikes", "emit_group", "run_ticks", "run_ticks_parallel")
#: the plasticity entry points ``run_ticks`` calls, and what a loop for a network without
#: plastic connections calls instead: with only ``plasticity.empty_tuple`` in its list the real
#: ones match no group and do nothing, and compiling them (every rule's update) was ~45 % of
#: the tick loop's cold compile (numba's compile events, seed network)
PLASTIC = ("pre_spikes", "record_post")
STATIC_STUBS = """

@numba.njit(cache=True)
def pre_spikes(plastic, g, fired, nf, t_spike, weights):
    return


@numba.njit(cache=True)
def record_post(plastic, g, fired, nf, t_ms):
    return
"""


def loops_dir() -> Path | None:
    """Where generated loop modules live: beside numba's cache when ``NUMBA_CACHE_DIR`` is set,
    else in this package's ``__pycache__``, else the user's cache; None if none is writable."""
    candidates = []
    if numba.config.CACHE_DIR:
        candidates.append(Path(numba.config.CACHE_DIR) / "spinnlive_loops")
    candidates.append(_HERE / "__pycache__" / "spinnlive_loops")
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    candidates.append(Path(xdg) / "spinnlive" / "loops")
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            return path
    return None


def sources_digest() -> str:
    """Digest of every kernel source file and the numba version (computed once a process)."""
    if not _DIGEST:
        h = hashlib.sha256(numba.__version__.encode())
        for path in sorted(_HERE.glob("*.py")):
            h.update(path.name.encode() + path.read_bytes())
        _DIGEST.append(h.hexdigest()[:16])
    return _DIGEST[0]


def _names(kernels: Mapping[int, Any]) -> tuple[tuple[int, str, str], ...] | None:
    """``(kind, module, function)`` per kernel, or None if one is not importable by name."""
    out = []
    for kind, kernel in sorted(kernels.items()):
        func = getattr(kernel, "py_func", None)
        module = getattr(func, "__module__", "")
        if func is None or not module.startswith("spinnlive."):
            return None
        out.append((int(kind), module, func.__name__))
    return tuple(out)


def module_text(names: tuple[tuple[int, str, str], ...], plastic: bool = True) -> str:
    """The generated module: imports, a ``neuron_step`` over ``names``, ``run_ticks`` (with
    the plasticity entry points stubbed out unless ``plastic``)."""
    imports = "\n".join(f"from {module} import {func} as _kernel_{kind}"
                        for kind, module, func in names)
    branches = "".join(f"    if kind == {kind}:\n"
                       f"        return _kernel_{kind}(s, k, exc, inh, iext, has_iext, out)\n"
                       for kind, _, _ in names)
    loop = "\n\n".join(inspect.getsource(getattr(ticks, name).py_func) for name in COPIED)
    own = ("neuron_step", *COPIED) + (() if plastic else PLASTIC)
    return (f'"""Generated by spinnlive.kernels.loops (kernel sources {sources_digest()}) for '
            f'model kinds {[k for k, _, _ in names]}'
            f'{"" if plastic else ", without plasticity"}; do not edit."""\n'
            "# ruff: noqa\n"
            "import numba\n"
            "from spinnlive.kernels import ticks as _ticks\n"
            f"{imports}\n\n"
            "globals().update({k: v for k, v in vars(_ticks).items()\n"
            f"                  if not k.startswith('__') and k not in {own}}})"
            "\n\n\n"
            "@numba.njit(cache=True)\n"
            "def neuron_step(kind, s, k, exc, inh, iext, has_iext, out):\n"
            f"{branches}    return 0\n\n\n{loop}\n{'' if plastic else STATIC_STUBS}")


def _write_if_changed(path: Path, text: str) -> None:
    """Write atomically, and only if the text differs (a rewrite invalidates numba's cache)."""
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def tick_loop(kernels: Mapping[int, Any], parallel: bool = False,
              plastic: bool = True) -> Callable[..., Any]:
    """``ticks.run_ticks`` (``run_ticks_parallel`` if ``parallel``) compiled for the neuron
    kernels ``{KIND: kernel}`` only, and without the plasticity updates unless ``plastic``
    (only for a network whose plastic list is ``plasticity.empty_tuple`` alone); the two loops
    of one network come from one module."""
    name = "run_ticks_parallel" if parallel else "run_ticks"
    names = _names(kernels)
    with _LOCK:
        module = None if names is None else _load(names, plastic)
    return getattr(ticks if module is None else module, name)  # type: ignore[no-any-return]


def _load(names: tuple[tuple[int, str, str], ...], plastic: bool) -> Any:
    """The generated module for ``names`` (None where no directory is writable)."""
    module = _LOOPS.get((names, plastic))
    if module is not None:
        return module
    folder = loops_dir()
    if folder is None:
        return None
    tag = ("_".join(str(k) for k, _, _ in names) or "none") + ("" if plastic else "_static")
    path = folder / f"tick_loop_{tag}.py"
    _write_if_changed(path, module_text(names, plastic))
    spec = importlib.util.spec_from_file_location(f"spinnlive_tick_loop_{tag}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # numba's cache finds the compiled code's globals by name
    spec.loader.exec_module(module)
    _LOOPS[names, plastic] = module
    return module


def is_cached(dispatcher: Any) -> bool | None:
    """Whether numba's cache holds compiled code for ``dispatcher`` (None: cannot tell).

    Reads numba's cache index (not public API, so any surprise answers None).
    """
    try:
        return bool(dispatcher._cache._cache_file._load_index())
    except Exception:  # noqa: BLE001 - a private API: unknown, not an error
        return None


def prefer_sleeping_workers() -> None:
    """Use numba's workqueue threading layer unless the user chose one (NUMBA_THREADING_LAYER).

    Threaded delivery meets at a barrier every tick. The OpenMP layer's workers spin between
    parallel regions, which on a machine with no idle core takes the CPU the tick thread needs
    (measured on a loaded 2-core VM: 0.3x the one-thread speed, against 0.6-0.8x with
    workqueue, whose workers sleep). Takes effect if no parallel code ran in the process yet.
    """
    if "NUMBA_THREADING_LAYER" not in os.environ:
        numba.config.THREADING_LAYER = "workqueue"
