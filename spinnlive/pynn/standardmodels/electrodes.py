"""Current sources: DCSource, StepCurrentSource, ACSource, NoisyCurrentSource.

Rules: one PyNN source is one engine current, however many times it is injected (every
``inject_into`` adds targets to it, as one NEST device feeds many neurons). Parameters live in
the PyNN ``parameter_space`` and are pushed to the engine on every change; ``record()`` keeps the
source's current trace, ``get_data()`` (PyNN's) returns it as a neo signal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pyNN.parameters import ParameterSpace, Sequence
from pyNN.standardmodels import electrodes

from .translations import identity

__all__ = ["DCSource", "StepCurrentSource", "ACSource", "NoisyCurrentSource"]


class _EngineCurrent:
    """Mixin joining a PyNN standard current source to the engine."""

    default_parameters: dict[str, Any]
    parameter_space: Any
    translations: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Each source's translation: the identity of its PyNN parameters (the engine takes
        PyNN's names and units)."""
        super().__init_subclass__(**kwargs)
        cls.translations = identity(*cls.default_parameters)

    def __init__(self, rng: Any = None, **parameters: Any) -> None:
        from ..simulator import state

        super().__init__(**parameters)
        self._normalise()
        self._key: int | None = None
        self._recording = False
        self._seed = getattr(rng, "seed", None)  # a NumpyRNG's seed drives the noise stream
        state.current_sources.append(self)

    @staticmethod
    def _engine() -> Any:
        from ..simulator import state

        return state.engine

    def _native(self) -> dict[str, Any]:
        space = self.translate(self.parameter_space)  # type: ignore[attr-defined]
        space.shape = (1,)
        space.evaluate(simplify=True)
        return dict(space.items())

    def inject_into(self, cells: Any) -> None:
        from ..populations import locate

        ids = np.asarray(getattr(cells, "all_cells", cells), dtype=np.int64)
        groups = locate(ids)
        for pop, _, _ in groups:
            if not pop.celltype.injectable:
                raise TypeError(f"Can't inject current into a spike source ({pop.label!r}).")
        targets = [(pop._key, idx) for pop, idx, _ in groups]
        engine = self._engine()
        if self._key is None:
            self._key = engine.add_current(type(self).__name__, self._native(), targets,
                                           seed=self._seed)
            if self._recording:
                engine.record_current(self._key)
        else:
            engine.add_current_targets(self._key, targets)

    def _normalise(self) -> None:
        """Check and put on the time grid what the parameters hold (subclasses that need it)."""

    def set_native_parameters(self, parameters: Any) -> None:
        parameters.evaluate(simplify=True)
        self.parameter_space.update(**dict(parameters.items()))
        self._normalise()
        if self._key is not None:
            self._engine().set_current_parameters(self._key, self._native())

    def get_native_parameters(self) -> Any:
        space = self.translate(self.parameter_space)  # type: ignore[attr-defined]
        space.shape = (1,)
        space.evaluate(simplify=True)
        # sequences read back as arrays, as in pyNN.nest
        return ParameterSpace({name: np.asarray(value.value, dtype=float)
                               if isinstance(value, Sequence) else value
                               for name, value in space.items()})

    def record(self) -> None:
        self._recording = True
        if self._key is not None:
            self._engine().record_current(self._key)

    def _get_data(self) -> tuple[np.ndarray, np.ndarray]:
        if self._key is None:
            return np.zeros(0), np.zeros(0)
        trace: tuple[np.ndarray, np.ndarray] = self._engine().current_trace(self._key)
        return trace


class DCSource(_EngineCurrent, electrodes.DCSource):
    __doc__ = electrodes.DCSource.__doc__


class StepCurrentSource(_EngineCurrent, electrodes.StepCurrentSource):
    __doc__ = electrodes.StepCurrentSource.__doc__

    def _normalise(self) -> None:
        # PyNN's rule (ValueError): times >= 0 and strictly increasing; then each time goes to
        # the nearest step and of several changes on one step the last wins (pyNN.nest's)
        space = self.parameter_space
        space.shape = (1,)
        space.evaluate(simplify=True)
        times = np.asarray(space["times"].value, dtype=float)
        amplitudes = np.asarray(space["amplitudes"].value, dtype=float)
        if times.size != amplitudes.size:
            raise ValueError(f"StepCurrentSource: {times.size} times but {amplitudes.size} "
                             "amplitudes")
        if times.size and times.min() < 0:
            raise ValueError("StepCurrentSource: times must be >= 0 ms")
        if times.size > 1 and np.min(np.diff(times)) <= 0:
            raise ValueError("StepCurrentSource: times must be strictly increasing")
        dt = self._engine().dt
        grid = np.rint(times / dt) * dt
        last = np.r_[grid[1:] != grid[:-1], True] if grid.size else grid.astype(bool)
        space.update(times=Sequence(grid[last]), amplitudes=Sequence(amplitudes[last]))


class ACSource(_EngineCurrent, electrodes.ACSource):
    __doc__ = electrodes.ACSource.__doc__


class NoisyCurrentSource(_EngineCurrent, electrodes.NoisyCurrentSource):
    __doc__ = electrodes.NoisyCurrentSource.__doc__
