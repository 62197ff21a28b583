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
from typing import ClassVar

import numba

from .grid import refractory_ticks
from .neuron_base import FloatArray, NeuronGroup
from .neurons_psc import IF_CURR_PARAMETERS

SUBSTEP_MS = 0.05


class IFCondExp(NeuronGroup):
    """PyNN IF_cond_exp = NEST iaf_cond_exp (weights in uS)."""

    PARAMETERS: ClassVar[dict[str, float]] = {
        **IF_CURR_PARAMETERS, "tau_syn_E": 5.0, "tau_syn_I": 5.0, "e_rev_E": 0.0,
        "e_rev_I": -70.0}
    STATE: ClassVar[dict[str, float]] = {"v": -65.0, "gsyn_exc": 0.0, "gsyn_inh": 0.0}
    WEIGHT_UNIT: ClassVar[str] = "uS"
    CONDUCTANCE_BASED: ClassVar[bool] = True

    def _update_propagators(self) -> None:
        p, h = self.params, self.dt
        self._n_sub = max(1, math.ceil(h / SUBSTEP_MS - 1e-9))
        self._g_l = p["cm"] / p["tau_m"]
        self._refc = refractory_ticks(p["tau_refrac"], h)

    def _step(self, exc: FloatArray, inh: FloatArray, i_ext: FloatArray) -> int:
        p, s = self.params, self.state
        return _cond_exp_kernel(
            s["v"], s["gsyn_exc"], s["gsyn_inh"], self.refractory, exc, inh, i_ext, p["cm"],
            self._g_l, p["v_rest"], p["e_rev_E"], p["e_rev_I"], p["tau_syn_E"], p["tau_syn_I"],
            p["v_thresh"], p["v_reset"], p["i_offset"], self._refc, self.dt, self._n_sub,
            self._scratch)


@numba.njit(cache=True)
def _cond_exp_kernel(v, ge, gi, r, exc, inh, iext, cm, g_l, e_l, e_e, e_i, tau_e, tau_i, v_th,
                     v_reset, i_off, refc, h, n_sub, out):  # pragma: no cover - compiled
    k = 0
    hs = h / n_sub
    for j in range(v.shape[0]):
        ge0, gi0 = ge[j], gi[j]
        if r[j] == 0:
            y = v[j]
            i0 = iext[j] + i_off[j]
            de, di = math.exp(-hs / tau_e[j]), math.exp(-hs / tau_i[j])
            dhe, dhi = math.exp(-0.5 * hs / tau_e[j]), math.exp(-0.5 * hs / tau_i[j])
            for _ in range(n_sub):
                gem, gim = ge0 * dhe, gi0 * dhi
                ge1, gi1 = ge0 * de, gi0 * di
                vv = min(y, v_th[j])
                k1 = (-g_l[j] * (vv - e_l[j]) - ge0 * (vv - e_e[j]) - gi0 * (vv - e_i[j]) + i0)
                vv = min(y + 0.5 * hs * k1 / cm[j], v_th[j])
                k2 = (-g_l[j] * (vv - e_l[j]) - gem * (vv - e_e[j]) - gim * (vv - e_i[j]) + i0)
                vv = min(y + 0.5 * hs * k2 / cm[j], v_th[j])
                k3 = (-g_l[j] * (vv - e_l[j]) - gem * (vv - e_e[j]) - gim * (vv - e_i[j]) + i0)
                vv = min(y + hs * k3 / cm[j], v_th[j])
                k4 = (-g_l[j] * (vv - e_l[j]) - ge1 * (vv - e_e[j]) - gi1 * (vv - e_i[j]) + i0)
                y += hs / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / cm[j]
                ge0, gi0 = ge1, gi1
            v[j] = y
        else:
            ge0 *= math.exp(-h / tau_e[j])
            gi0 *= math.exp(-h / tau_i[j])
        ge[j] = ge0 + exc[j]
        gi[j] = gi0 + inh[j]
        if r[j] > 0:
            r[j] -= 1
            v[j] = v_reset[j]
        elif v[j] >= v_th[j]:
            r[j] = refc[j]
            v[j] = v_reset[j]
            out[k] = j
            k += 1
    return k


class Izhikevich(NeuronGroup):
    """PyNN Izhikevich = NEST izhikevich (``u`` in mV/ms; weights as ``v`` jumps, see module)."""

    PARAMETERS: ClassVar[dict[str, float]] = {
        "a": 0.02, "b": 0.2, "c": -65.0, "d": 2.0, "i_offset": 0.0}
    STATE: ClassVar[dict[str, float]] = {"v": -70.0, "u": -14.0}
    CURRENT_SCALE: ClassVar[float] = 1000.0
    V_THRESH: ClassVar[float] = 30.0

    def _update_propagators(self) -> None:
        pass

    def _step(self, exc: FloatArray, inh: FloatArray, i_ext: FloatArray) -> int:
        p, s = self.params, self.state
        return _izhikevich_kernel(s["v"], s["u"], exc, inh, i_ext, p["a"], p["b"], p["c"],
                                  p["d"], p["i_offset"], self.CURRENT_SCALE, self.V_THRESH,
                                  self.dt, self._scratch)


@numba.njit(cache=True)
def _izhikevich_kernel(v, u, exc, inh, iext, a, b, c, d, i_off, scale, v_th, h,
                       out):  # pragma: no cover - compiled
    k = 0
    for j in range(v.shape[0]):
        v_old, u_old = v[j], u[j]
        v[j] += (h * (0.04 * v_old * v_old + 5.0 * v_old + 140.0 - u_old
                      + scale * iext[j] + scale * i_off[j]) + (exc[j] - inh[j]))
        u[j] += h * a[j] * (b[j] * v_old - u_old)
        if v[j] >= v_th:
            v[j] = c[j]
            u[j] += d[j]
            out[k] = j
            k += 1
    return k
