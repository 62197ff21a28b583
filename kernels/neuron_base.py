"""Base class of the neuron groups: structure-of-arrays parameters and state, one kernel call a tick.

Rules every model follows (they make spike times equal NEST's on the grid):

* ``params`` and ``state`` map names to float64 arrays of length ``n``. The arrays are allocated
  once and updated **in place**, so a recorder or the front end may keep references to them.
* Parameter names and defaults are PyNN's (ms, mV, nF, nA, uS); ``PARAMETERS`` and ``STATE``
  hold the PyNN defaults. ``set_parameters`` recomputes the propagators; ``reset_state`` copies
  the initial values back (``set_initial_values`` changes both the initial and the current state,
  as pyNN.nest's ``initialize`` does).
* ``step(exc, inh, i_ext)`` advances one tick. ``exc``/``inh`` are the summed synaptic input that
  arrives this tick, as positive magnitudes (nA, uS, or mV for delta/Izhikevich synapses): the
  receptor gives the sign. ``i_ext`` is the injected current (nA) flowing **during** this tick, or
  ``None``. The current-source objects absorb NEST's generator delay, so a model uses ``i_ext``
  where NEST uses the ``i_0`` it stored at the end of the previous step.
* The order inside a step is NEST's ``update()``: propagate the membrane (unless refractory),
  decay/step the synaptic state, add this tick's input, test the threshold, reset.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from spinnlive.errors import ConfigurationError

FloatArray = np.ndarray


class NeuronGroup:
    """``n`` neurons of one model; subclasses give ``PARAMETERS``, ``STATE`` and ``_step``."""

    PARAMETERS: ClassVar[dict[str, float]] = {}
    STATE: ClassVar[dict[str, float]] = {}
    #: unit of a synaptic weight onto this model (what ``exc``/``inh`` carry)
    WEIGHT_UNIT: ClassVar[str] = "nA"
    #: True for current-based synapses (the front end checks weight signs against it)
    CONDUCTANCE_BASED: ClassVar[bool] = False
    is_source: ClassVar[bool] = False

    def __init__(self, n: int, dt: float, **param_arrays: FloatArray | float) -> None:
        if n < 0:
            raise ConfigurationError(f"a neuron group needs n >= 0, got {n}")
        self.n = int(n)
        self.dt = float(dt)
        self.params: dict[str, FloatArray] = {
            k: np.full(self.n, v, dtype=np.float64) for k, v in self.PARAMETERS.items()
        }
        self.initial: dict[str, FloatArray] = {
            k: np.full(self.n, v, dtype=np.float64) for k, v in self.STATE.items()
        }
        self.state: dict[str, FloatArray] = {k: v.copy() for k, v in self.initial.items()}
        #: refractory countdown in ticks (NEST's ``r_``); unused by models without one
        self.refractory = np.zeros(self.n, dtype=np.int64)
        self._zeros = np.zeros(self.n, dtype=np.float64)
        self._scratch = np.empty(self.n, dtype=np.int64)
        self.set_parameters(**param_arrays)

    def _assign(self, target: dict[str, FloatArray], kind: str, ids: np.ndarray | None,
                arrays: dict[str, FloatArray | float]) -> None:
        for name, value in arrays.items():
            if name not in target:
                raise ConfigurationError(
                    f"{type(self).__name__} has no {kind} {name!r}; it has {sorted(target)}"
                )
            if ids is None:
                target[name][:] = value
            else:
                target[name][ids] = value

    def set_parameters(self, ids: np.ndarray | None = None, **arrays: FloatArray | float) -> None:
        """Set parameters (all neurons, or those in ``ids``) and recompute the propagators."""
        self._assign(self.params, "parameter", ids, arrays)
        self._update_propagators()

    def set_initial_values(self, ids: np.ndarray | None = None,
                           **arrays: FloatArray | float) -> None:
        """Set the initial values used by ``reset_state`` and the current state alike."""
        self._assign(self.initial, "state variable", ids, arrays)
        self._assign(self.state, "state variable", ids, arrays)

    def reset_state(self) -> None:
        """State back to the initial values; refractoriness and hidden state cleared."""
        for k, v in self.initial.items():
            self.state[k][:] = v
        self.refractory[:] = 0
        self._reset_hidden()

    def step(self, exc: FloatArray, inh: FloatArray, i_ext: FloatArray | None) -> np.ndarray:
        """Advance one tick; return the indices of the neurons that spiked in it (a new array)."""
        n = self._step(exc, inh, self._zeros if i_ext is None else i_ext)
        return self._scratch[:n].copy()

    # -- for subclasses -------------------------------------------------------------------
    def _update_propagators(self) -> None:
        raise NotImplementedError

    def _reset_hidden(self) -> None:
        """Clear state that is not in ``STATE`` (e.g. alpha synapses' derivatives)."""

    def _step(self, exc: FloatArray, inh: FloatArray, i_ext: FloatArray) -> int:
        """Advance in place, write spiking indices to ``self._scratch``, return their count."""
        raise NotImplementedError
