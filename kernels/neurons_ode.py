"""Models without exact propagators: IF_cond_exp (NEST iaf_cond_exp) and Izhikevich (NEST izhikevich).

IF_cond_exp: within a tick the conductances decay exactly (``g(t) = g0 exp(-t / tau)``) and the
membrane is integrated with classical RK4 on fixed sub-steps of at most ``SUBSTEP_MS``. NEST uses
GSL's adaptive RKF45 with absolute tolerance 1e-3, so the two agree to that solver's accuracy,
not bit for bit (the tests state the tolerance). Everything around the solver is NEST's: the
right-hand side uses ``min(v, v_thresh)``, is frozen while refractory, the tick's input is added
to the conductances after the solve, then the refractory count is decremented (clamping ``v`` to
``v_reset``) or the threshold tested.

Izhikevich: NEST's ``consistent_integration`` forward Euler, bit for bit: ``v`` and ``u`` both
step from the old values, the tick's synaptic input is added to ``v`` directly (a weight ``w``
is a jump of ``w`` mV, which is what pyNN.nest's nA x 1000 x ``receptor_scale`` 1e-3 gives),
the threshold is NEST's fixed 30 mV. Currents (``i_offset``, ``i_ext``) enter ``dv/dt`` multiplied
by ``CURRENT_SCALE = 1000``: pyNN.nest hands NEST pA, and NEST's izhikevich adds the number
unscaled to mV/ms.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numba

from .grid import refractory_ticks
from .neuron_base import NeuronGroup
from .neurons_psc import IF_CURR_PARAMETERS

SUBSTEP_MS = 0.05


@numba.njit(cache=True, inline="always")
def substeps(k, row):  # pragma: no cover - compiled
    """The tick ``h`` (row ``row`` of the constants), the sub-step count (row ``row + 1``)
    and the sub-step length, for every kernel that integrates on fixed sub-steps."""
    h, n_sub = k[row, 0], int(k[row + 1, 0])
    return h, n_sub, h / n_sub


class IFCondExp(NeuronGroup):
    """PyNN IF_cond_exp = NEST iaf_cond_exp (weights in uS)."""

    PARAMETERS: ClassVar[dict[str, float]] = {
        **IF_CURR_PARAMETERS, "tau_syn_E": 5.0, "tau_syn_I": 5.0, "e_rev_E": 0.0,
        "e_rev_I": -70.0}
    STATE: ClassVar[dict[str, float]] = {"v": -65.0, "gsyn_exc": 0.0, "gsyn_inh": 0.0}
    WEIGHT_UNIT: ClassVar[str] = "uS"
    CONDUCTANCE_BASED: ClassVar[bool] = True
    CONSTANTS: ClassVar[tuple[str, ...]] = (
        "cm", "g_l", "v_rest", "e_rev_E", "e_rev_I", "tau_syn_E", "tau_syn_I", "v_thresh",
        "v_reset", "i_offset", "refc", "h", "n_sub")
    KIND: ClassVar[int] = 13

    def _constants(self) -> list[Any]:
        p, h = self.params, self.dt
        return [p["cm"], p["cm"] / p["tau_m"], p["v_rest"], p["e_rev_E"], p["e_rev_I"],
                p["tau_syn_E"], p["tau_syn_I"], p["v_thresh"], p["v_reset"], p["i_offset"],
                refractory_ticks(p["tau_refrac"], h), h,
                max(1, math.ceil(h / SUBSTEP_MS - 1e-9))]


@numba.njit(cache=True)
def _cond_exp_kernel(s, k, exc, inh, iext, has_iext, out):  # pragma: no cover - compiled
    v, ge, gi, r = s[0], s[1], s[2], s[3]
    het = k.shape[1] > 1
    h, n_sub, hs = substeps(k, 11)
    n_out = 0
    for j in range(v.shape[0]):
        c = j if het else 0
        cm, g_l, e_l, e_e, e_i = k[0, c], k[1, c], k[2, c], k[3, c], k[4, c]
        tau_e, tau_i, v_th = k[5, c], k[6, c], k[7, c]
        ge0, gi0 = ge[j], gi[j]
        if r[j] == 0.0:
            y = v[j]
            i0 = (iext[j] if has_iext else 0.0) + k[9, c]
            de, di = math.exp(-hs / tau_e), math.exp(-hs / tau_i)
            dhe, dhi = math.exp(-0.5 * hs / tau_e), math.exp(-0.5 * hs / tau_i)
            for _ in range(n_sub):
                gem, gim = ge0 * dhe, gi0 * dhi
                ge1, gi1 = ge0 * de, gi0 * di
                vv = min(y, v_th)
                k1 = (-g_l * (vv - e_l) - ge0 * (vv - e_e) - gi0 * (vv - e_i) + i0)
                vv = min(y + 0.5 * hs * k1 / cm, v_th)
                k2 = (-g_l * (vv - e_l) - gem * (vv - e_e) - gim * (vv - e_i) + i0)
                vv = min(y + 0.5 * hs * k2 / cm, v_th)
                k3 = (-g_l * (vv - e_l) - gem * (vv - e_e) - gim * (vv - e_i) + i0)
                vv = min(y + hs * k3 / cm, v_th)
                k4 = (-g_l * (vv - e_l) - ge1 * (vv - e_e) - gi1 * (vv - e_i) + i0)
                y += hs / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / cm
                ge0, gi0 = ge1, gi1
            v[j] = y
        else:
            ge0 *= math.exp(-h / tau_e)
            gi0 *= math.exp(-h / tau_i)
        ge[j] = ge0 + exc[j]
        gi[j] = gi0 + inh[j]
        if r[j] > 0.0:
            r[j] -= 1.0
            v[j] = k[8, c]
        elif v[j] >= v_th:
            r[j] = k[10, c]
            v[j] = k[8, c]
            out[n_out] = j
            n_out += 1
    return n_out


IFCondExp.KERNEL = staticmethod(_cond_exp_kernel)


class Izhikevich(NeuronGroup):
    """PyNN Izhikevich = NEST izhikevich (``u`` in mV/ms; weights as ``v`` jumps, see module)."""

    PARAMETERS: ClassVar[dict[str, float]] = {
        "a": 0.02, "b": 0.2, "c": -65.0, "d": 2.0, "i_offset": 0.0}
    STATE: ClassVar[dict[str, float]] = {"v": -70.0, "u": -14.0}
    CURRENT_SCALE: ClassVar[float] = 1000.0
    V_THRESH: ClassVar[float] = 30.0
    CONSTANTS: ClassVar[tuple[str, ...]] = (
        "a", "b", "c", "d", "i_offset", "h", "current_scale", "v_thresh")
    KIND: ClassVar[int] = 14

    def _constants(self) -> list[Any]:
        p = self.params
        return [p["a"], p["b"], p["c"], p["d"], p["i_offset"], self.dt, self.CURRENT_SCALE,
                self.V_THRESH]


@numba.njit(cache=True)
def _izhikevich_kernel(s, k, exc, inh, iext, has_iext, out):  # pragma: no cover - compiled
    v, u = s[0], s[1]
    het = k.shape[1] > 1
    h, scale, v_th = k[5, 0], k[6, 0], k[7, 0]
    n_out = 0
    for j in range(v.shape[0]):
        c = j if het else 0
        v_old, u_old = v[j], u[j]
        ie = iext[j] if has_iext else 0.0
        v[j] += (h * (0.04 * v_old * v_old + 5.0 * v_old + 140.0 - u_old
                      + scale * ie + scale * k[4, c]) + (exc[j] - inh[j]))
        u[j] += h * k[0, c] * (k[1, c] * v_old - u_old)
        if v[j] >= v_th:
            v[j] = k[2, c]
            u[j] += k[3, c]
            out[n_out] = j
            n_out += 1
    return n_out


Izhikevich.KERNEL = staticmethod(_izhikevich_kernel)
