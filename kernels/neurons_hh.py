"""HH_cond_exp: NEST's hh_cond_exp_traub (Traub & Miles 1991 channels, exponential conductances).

The membrane and the gating variables ``m``, ``h``, ``n`` are integrated with classical RK4 on
fixed sub-steps of ``SUBSTEP_MS``; the synaptic conductances decay exactly within the tick.
NEST integrates with GSL's adaptive RKF45 (absolute tolerance 1e-3), so the two agree to that
solver's accuracy (``tests/test_kernels_neurons.py`` states the bounds). Around the solver,
NEST's rules: the tick's input is added to the conductances after the solve; a spike is the
tick in which ``v >= v_offset + 30 mV`` while ``v`` fell during the tick (the action
potential's peak has passed), unless the neuron is within its pseudo-refractory period (2 ms,
NEST's default ``t_ref``, which PyNN does not expose): refractoriness only blocks detection,
it never clamps the membrane. Units are PyNN's (uS, nF, nA, mV, ms).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numba
import numpy as np

from .grid import refractory_ticks
from .neuron_base import NeuronGroup
from .neurons_ode import substeps

SUBSTEP_MS = 0.01
#: NEST hh_cond_exp_traub's default t_ref (ms); PyNN's HH_cond_exp has no parameter for it
T_REF_MS = 2.0


class HHCondExp(NeuronGroup):
    """PyNN HH_cond_exp = NEST hh_cond_exp_traub (weights in uS)."""

    PARAMETERS: ClassVar[dict[str, float]] = {
        "gbar_Na": 20.0, "gbar_K": 6.0, "g_leak": 0.01, "cm": 0.2, "v_offset": -63.0,
        "e_rev_Na": 50.0, "e_rev_K": -90.0, "e_rev_leak": -65.0, "e_rev_E": 0.0,
        "e_rev_I": -80.0, "tau_syn_E": 0.2, "tau_syn_I": 2.0, "i_offset": 0.0}
    STATE: ClassVar[dict[str, float]] = {"v": -65.0, "gsyn_exc": 0.0, "gsyn_inh": 0.0,
                                         "m": 0.0, "h": 1.0, "n": 0.0}
    WEIGHT_UNIT: ClassVar[str] = "uS"
    CONDUCTANCE_BASED: ClassVar[bool] = True
    CONSTANTS: ClassVar[tuple[str, ...]] = (
        "gbar_Na", "gbar_K", "g_leak", "cm", "v_offset", "e_rev_Na", "e_rev_K", "e_rev_leak",
        "e_rev_E", "e_rev_I", "tau_syn_E", "tau_syn_I", "i_offset", "refc", "h", "n_sub")
    KIND: ClassVar[int] = 18

    def _constants(self) -> list[Any]:
        p, h = self.params, self.dt
        return [*(p[name] for name in self.CONSTANTS[:13]),
                refractory_ticks(np.full(self.n, T_REF_MS), h), h,
                max(1, math.ceil(h / SUBSTEP_MS - 1e-9))]


@numba.njit(cache=True, inline="always")
def _rates(v):  # pragma: no cover - compiled
    """Traub's opening and closing rates (1/ms) at ``v`` relative to ``v_offset``."""
    a_n = 0.032 * (15.0 - v) / (math.exp((15.0 - v) / 5.0) - 1.0)
    b_n = 0.5 * math.exp((10.0 - v) / 40.0)
    a_m = 0.32 * (13.0 - v) / (math.exp((13.0 - v) / 4.0) - 1.0)
    b_m = 0.28 * (v - 40.0) / (math.exp((v - 40.0) / 5.0) - 1.0)
    a_h = 0.128 * math.exp((17.0 - v) / 18.0)
    b_h = 4.0 / (1.0 + math.exp((40.0 - v) / 5.0))
    return a_m, b_m, a_h, b_h, a_n, b_n


@numba.njit(cache=True, inline="always")
def _derivatives(k, c, v, m, hh, n, ge, gi, i0):  # pragma: no cover - compiled
    i_na = k[0, c] * m * m * m * hh * (v - k[5, c])
    i_k = k[1, c] * n * n * n * n * (v - k[6, c])
    i_l = k[2, c] * (v - k[7, c])
    dv = (-i_na - i_k - i_l - ge * (v - k[8, c]) - gi * (v - k[9, c]) + i0) / k[3, c]
    a_m, b_m, a_h, b_h, a_n, b_n = _rates(v - k[4, c])
    return dv, a_m - (a_m + b_m) * m, a_h - (a_h + b_h) * hh, a_n - (a_n + b_n) * n


@numba.njit(cache=True)
def _hh_kernel(s, k, exc, inh, iext, has_iext, out):  # pragma: no cover - compiled
    v, ge, gi, m, hh, n, r = s[0], s[1], s[2], s[3], s[4], s[5], s[6]
    het = k.shape[1] > 1
    _, n_sub, hs = substeps(k, 14)
    n_out = 0
    for j in range(v.shape[0]):
        c = j if het else 0
        de, di = math.exp(-hs / k[10, c]), math.exp(-hs / k[11, c])
        dhe, dhi = math.exp(-0.5 * hs / k[10, c]), math.exp(-0.5 * hs / k[11, c])
        i0 = (iext[j] if has_iext else 0.0) + k[12, c]
        y, ym, yh, yn = v[j], m[j], hh[j], n[j]
        g_e, g_i = ge[j], gi[j]
        v_old = y
        for _ in range(n_sub):
            gem, gim, ge1, gi1 = g_e * dhe, g_i * dhi, g_e * de, g_i * di
            k1 = _derivatives(k, c, y, ym, yh, yn, g_e, g_i, i0)
            k2 = _derivatives(k, c, y + 0.5 * hs * k1[0], ym + 0.5 * hs * k1[1],
                              yh + 0.5 * hs * k1[2], yn + 0.5 * hs * k1[3], gem, gim, i0)
            k3 = _derivatives(k, c, y + 0.5 * hs * k2[0], ym + 0.5 * hs * k2[1],
                              yh + 0.5 * hs * k2[2], yn + 0.5 * hs * k2[3], gem, gim, i0)
            k4 = _derivatives(k, c, y + hs * k3[0], ym + hs * k3[1], yh + hs * k3[2],
                              yn + hs * k3[3], ge1, gi1, i0)
            y += hs / 6.0 * (k1[0] + 2.0 * k2[0] + 2.0 * k3[0] + k4[0])
            ym += hs / 6.0 * (k1[1] + 2.0 * k2[1] + 2.0 * k3[1] + k4[1])
            yh += hs / 6.0 * (k1[2] + 2.0 * k2[2] + 2.0 * k3[2] + k4[2])
            yn += hs / 6.0 * (k1[3] + 2.0 * k2[3] + 2.0 * k3[3] + k4[3])
            g_e, g_i = ge1, gi1
        v[j], m[j], hh[j], n[j] = y, ym, yh, yn
        ge[j] = g_e + exc[j]
        gi[j] = g_i + inh[j]
        if r[j] > 0.0:
            r[j] -= 1.0
        elif y >= k[4, c] + 30.0 and v_old > y:
            r[j] = k[13, c]
            out[n_out] = j
            n_out += 1
    return n_out


HHCondExp.KERNEL = staticmethod(_hh_kernel)
