"""Base class of the neuron groups: packed state and constants, one compiled kernel per model.

Rules every model follows (they make spike times equal NEST's on the grid):

* ``params`` and ``state`` map names to float64 arrays of length ``n``, updated **in place**, so
  a recorder or the front end may keep references to them. Parameter names and defaults are
  PyNN's (ms, mV, nF, nA, uS); ``PARAMETERS`` and ``STATE`` hold the PyNN defaults.
  ``set_parameters`` recomputes the constants; ``reset_state`` copies the initial values back
  (``set_initial_values`` changes both the initial and the current state, as pyNN.nest's
  ``initialize`` does).
* Layout, for speed (a kernel call takes three arrays, not twenty): ``_s`` is one
  ``(rows, n)`` block whose rows are the ``STATE`` variables, then ``HIDDEN`` ones (e.g. alpha
  synapses' derivatives), then the refractory countdown in ticks (NEST's ``r_``, an integer
  held in a float); ``state[name]`` are views of its rows. ``_k`` is the ``(len(CONSTANTS),
  n)`` table of what the kernel reads (parameters and propagators, in the model's order),
  collapsed to one column when every neuron has the same values, which is the common case and
  keeps a large group's per-tick memory traffic to its state.
* ``KERNEL(s, k, exc, inh, iext, has_iext, out) -> count`` advances one tick: ``exc``/``inh``
  are the summed synaptic input that arrives this tick, as positive magnitudes (nA, uS, or mV
  for delta/Izhikevich synapses): the receptor gives the sign. ``iext`` is the injected current
  (nA) flowing **during** this tick (read only if ``has_iext``). The current-source objects
  absorb NEST's generator delay, so a model uses ``iext`` where NEST uses the ``i_0`` it stored
  at the end of the previous step. Spiking indices go to ``out[:count]``. ``Network`` calls
  the same kernels from its compiled tick loop (``ticks``), by ``KIND``.
* Receptors: ``RECEPTORS`` names a model's input lanes. Lanes 0 and 1 (``excitatory``,
  ``inhibitory``) are ``exc[j]`` and ``inh[j]``; a model with more (IF_curr_dual_exp's
  ``excitatory2``) owns ``lanes = 2`` buffer columns per neuron in each half, and lane 2 is
  ``exc[n + j]``, lane 3 ``inh[n + j]``.
* The order inside a step is NEST's ``update()``: propagate the membrane (unless refractory),
  decay/step the synaptic state, add this tick's input, test the threshold, reset.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from spinnlive.errors import ConfigurationError

from . import layout

FloatArray = np.ndarray


class NeuronGroup:
    """``n`` neurons of one model; subclasses give the tables, ``_constants`` and ``KERNEL``."""

    PARAMETERS: ClassVar[dict[str, float]] = {}
    STATE: ClassVar[dict[str, float]] = {}
    #: state rows that are not PyNN state variables (cleared by reset_state)
    HIDDEN: ClassVar[tuple[str, ...]] = ()
    #: rows of ``_k``, in the order the kernel reads them
    CONSTANTS: ClassVar[tuple[str, ...]] = ()
    #: the model's code in the network's compiled dispatch (``ticks.neuron_step``)
    KIND: ClassVar[int] = -1
    KERNEL: ClassVar[Callable[..., int]]  # a staticmethod around the compiled kernel
    #: unit of a synaptic weight onto this model (what ``exc``/``inh`` carry)
    WEIGHT_UNIT: ClassVar[str] = "nA"
    #: True for current-based synapses (the front end checks weight signs against it)
    CONDUCTANCE_BASED: ClassVar[bool] = False
    #: input lanes by receptor name (see the module docstring); at most four
    RECEPTORS: ClassVar[tuple[str, ...]] = ("excitatory", "inhibitory")
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
        n_rows = len(self.STATE) + len(self.HIDDEN) + 1
        self._s = np.zeros((n_rows, self.n), dtype=np.float64)
        self.state: dict[str, FloatArray] = {k: self._s[i] for i, k in enumerate(self.STATE)}
        for k, v in self.initial.items():
            self.state[k][:] = v
        self._k = np.zeros((len(self.CONSTANTS), 1), dtype=np.float64)
        self._i = np.zeros((0, 0), dtype=np.int64)  # no integer tables (network kernel slot)
        self._scratch = np.empty(self.n, dtype=np.int64)
        self._no_iext = np.zeros(0, dtype=np.float64)
        self.set_parameters(**param_arrays)

    @property
    def lanes(self) -> int:
        """Buffer columns per neuron in each receptor half."""
        return (len(self.RECEPTORS) + 1) // 2

    def receptor_column(self, receptor: str) -> tuple[int, int]:
        """``(half, block)`` of a receptor's lane: the half (0 excitatory, 1 inhibitory) and
        which ``n`` columns of the group's share of that half."""
        if receptor not in self.RECEPTORS:
            raise ConfigurationError(
                f"{type(self).__name__} has no receptor {receptor!r}; it has {self.RECEPTORS}")
        lane = self.RECEPTORS.index(receptor)
        return lane % 2, lane // 2

    @property
    def refractory(self) -> FloatArray:
        """Refractory countdown in ticks (a view; whole numbers)."""
        return self._s[-1]

    def hidden(self, name: str) -> FloatArray:
        """A hidden state row (a view)."""
        return self._s[len(self.STATE) + self.HIDDEN.index(name)]

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
        """Set parameters (all neurons, or those in ``ids``) and recompute the constants."""
        self._assign(self.params, "parameter", ids, arrays)
        self._pack_constants(self._constants())

    def set_initial_values(self, ids: np.ndarray | None = None,
                           **arrays: FloatArray | float) -> None:
        """Set the initial values used by ``reset_state`` and the current state alike."""
        self._assign(self.initial, "state variable", ids, arrays)
        self._assign(self.state, "state variable", ids, arrays)

    def reset_state(self) -> None:
        """State back to the initial values; refractoriness and hidden state cleared."""
        for k, v in self.initial.items():
            self.state[k][:] = v
        self._s[len(self.STATE):] = 0.0

    def step(self, exc: FloatArray, inh: FloatArray, i_ext: FloatArray | None) -> np.ndarray:
        """Advance one tick; return the indices of the neurons that spiked in it (a new array).

        ``exc``/``inh`` hold ``n`` values, or ``n * lanes`` for a model with more receptors
        (its extra lanes are zero when only ``n`` are given)."""
        if self.lanes > 1:
            exc, inh = (np.concatenate([x, np.zeros(self.n * self.lanes - len(x))])
                        for x in (np.asarray(exc, dtype=np.float64),
                                  np.asarray(inh, dtype=np.float64)))
        has_iext = i_ext is not None
        iext = np.ascontiguousarray(i_ext, dtype=np.float64) if has_iext else self._no_iext
        n = self.KERNEL(self._s, self._k, np.ascontiguousarray(exc, dtype=np.float64),
                              np.ascontiguousarray(inh, dtype=np.float64), iext, has_iext,
                              self._scratch)
        return self._scratch[:n].copy()

    def _pack_constants(self, values: Sequence[Any]) -> None:
        """Store the kernel's constants, one column if all neurons share them.

        Written in place when the shape is unchanged; a new array otherwise (the network
        notices the new identity and re-binds it).
        """
        rows = [np.broadcast_to(np.asarray(v, dtype=np.float64), (self.n,)) for v in values]
        table = np.array(rows, dtype=np.float64).reshape(len(rows), self.n)
        if self.n == 0 or np.all(table == table[:, :1]):
            table = np.ascontiguousarray(table[:, :1]) if self.n else np.zeros((len(rows), 1))
        if table.shape == self._k.shape:
            self._k[:] = table
        else:
            self._k = table
            layout.changed()

    # -- for subclasses -------------------------------------------------------------------
    def _constants(self) -> list[Any]:
        """The values of ``CONSTANTS`` (arrays of length n or scalars), in that order."""
        raise NotImplementedError
