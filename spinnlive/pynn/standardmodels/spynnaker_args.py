"""sPyNNaker's cell-type constructors on PyNN's standard cell types.

sPyNNaker 7.4.1 accepts what PyNN does not: positional arguments for the spike sources
(``SpikeSourceArray(times)``, ``SpikeSourcePoisson(rate, start, duration)``) and state variables
given as cell parameters (``IF_curr_exp(v=-60.0)``, ``Izhikevich(u=-14.0)``), which are initial
values. :class:`SpynnakerArgs`, first among a spinnlive cell class's bases, turns both into
PyNN's form: positional values become the named parameters, and state variables become this
instance's ``default_initial_values`` (which PyNN's ``Population`` initialises from).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ...errors import ConfigurationError


class SpynnakerArgs:
    """Mixin: sPyNNaker's positional and state-variable constructor arguments."""

    positional: ClassVar[tuple[str, ...]] = ()
    default_parameters: ClassVar[dict[str, Any]]
    default_initial_values: dict[str, Any]

    def __init__(self, *args: Any, **parameters: Any) -> None:
        name = type(self).__name__
        if len(args) > len(self.positional):
            raise ConfigurationError(
                f"{name}() takes at most {len(self.positional)} positional arguments "
                f"({', '.join(self.positional) or 'none'}), got {len(args)}; name them")
        for key, value in zip(self.positional, args):
            if key in parameters:
                raise ConfigurationError(f"{name}(): {key} given twice")
            parameters[key] = value
        state = {key: parameters.pop(key) for key in list(parameters)
                 if key in self.default_initial_values and key not in self.default_parameters}
        super().__init__(**parameters)
        if state:
            self.default_initial_values = {**type(self).default_initial_values, **state}
