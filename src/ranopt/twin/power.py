"""Base-station power consumption with sleep states."""

import numpy as np
import numpy.typing as npt

from ranopt.twin.elements import PowerModel
from ranopt.twin.units import FloatArray

# Auer et al. 2011, "How much energy is needed to run a wireless network?", IEEE Wireless
# Commun. 18(5), Table 2, macro BS: N_TRX = 6 (3 sectors x 2 antennas), P_max = 20 W,
# P0 = 130 W, delta_p = 4.7, P_sleep = 75 W. One cell is one sector: 2 chains.
EARTH_MACRO_CELL = PowerModel(
    num_trx=2,
    max_tx_power_per_trx_w=20.0,
    p0_w=130.0,
    delta_p=4.7,
    p_sleep_w=75.0,
    source="EARTH macro, Auer et al. 2011 Table 2 (per sector: 2 of the 6 TRX)",
)


# TR 38.864 V18.1.0 Table 5.1-3, BS category 1, set 1 (reference: FR1 TDD 100 MHz, 30 kHz SCS,
# 64 TxRU, 55 dBm, Table 5.1-1): relative power of deep sleep 1, light sleep 25, micro sleep 55,
# active DL at full allocation 280.
TR38864_DEEP_SLEEP_REL = 1.0
TR38864_LIGHT_SLEEP_REL = 25.0
TR38864_MICRO_SLEEP_REL = 55.0
TR38864_ACTIVE_DL_REL = 280.0
TR38864_REF_TX_POWER_W = 316.23  # 55 dBm, TR 38.864 Table 5.1-1 set 1
# TR 38.864 cl. 5.1 DL scaling: P = P_micro + (P_DL - P_micro) (A + (1 - A) s_f), A = 0.4 the
# load-independent share; a cell that carries traffic schedules in every DL slot, so s_f is
# its PRB load.
TR38864_LOAD_INDEPENDENT_SHARE = 0.4
# Absolute scale (an assumption, not from TR 38.864, which gives relative values only): the
# 64T64R AAU draws 1.2 kW at full DL load, within the range of vendor datasheets.
MMIMO_FULL_LOAD_W = 1200.0
_MMIMO_TRX = 64


def tr38864_power_model(
    sleep_rel: float = TR38864_DEEP_SLEEP_REL, full_load_w: float = MMIMO_FULL_LOAD_W
) -> PowerModel:
    """Return the 64T64R capacity-cell power model, TR 38.864 relative powers in EARTH form.

    ``N P0`` is the power at zero PRB load, ``P_micro + A (P_DL - P_micro)``; ``N delta_p
    P_max`` the load-dependent part ``(1 - A)(P_DL - P_micro)``; sleep is ``sleep_rel``.
    """
    w_per_rel = full_load_w / TR38864_ACTIVE_DL_REL
    per_trx_tx_w = TR38864_REF_TX_POWER_W / _MMIMO_TRX
    dynamic_rel = TR38864_ACTIVE_DL_REL - TR38864_MICRO_SLEEP_REL
    zero_load_rel = TR38864_MICRO_SLEEP_REL + TR38864_LOAD_INDEPENDENT_SHARE * dynamic_rel
    load_rel = (1.0 - TR38864_LOAD_INDEPENDENT_SHARE) * dynamic_rel
    return PowerModel(
        num_trx=_MMIMO_TRX,
        max_tx_power_per_trx_w=per_trx_tx_w,
        p0_w=zero_load_rel * w_per_rel / _MMIMO_TRX,
        delta_p=load_rel * w_per_rel / (_MMIMO_TRX * per_trx_tx_w),
        p_sleep_w=sleep_rel * w_per_rel / _MMIMO_TRX,
        source=(
            "TR 38.864 Table 5.1-3 BS cat. 1 set 1 (deep sleep 1, micro sleep 55, DL 280, "
            f"A = 0.4), scaled to {full_load_w:.0f} W at full load"
        ),
    )


MMIMO_64T64R_CELL = tr38864_power_model()


def input_power_w(
    num_trx: npt.ArrayLike,
    p0_w: npt.ArrayLike,
    delta_p: npt.ArrayLike,
    max_tx_power_per_trx_w: npt.ArrayLike,
    p_sleep_w: npt.ArrayLike,
    prb_load: npt.ArrayLike,
    active: npt.ArrayLike,
) -> FloatArray:
    """Return the supply power of cells, W (all arguments broadcast; shape of the result).

    Auer et al. 2011 eq. (1): ``P_in = N_TRX (P0 + delta_p P_out)`` for ``0 < P_out <= P_max``
    and ``N_TRX P_sleep`` in sleep; the RF output ``P_out`` follows the PRB load (0-1).
    """
    load = np.clip(np.asarray(prb_load, dtype=np.float64), 0.0, 1.0)
    n = np.asarray(num_trx, dtype=np.float64)
    p_out_w = load * np.asarray(max_tx_power_per_trx_w, dtype=np.float64)
    # Auer et al. 2011 eq. (1): the N_TRX factor multiplies both P0 and the load term, and P_sleep
    p_active_w = n * (np.asarray(p0_w, dtype=np.float64) + np.asarray(delta_p) * p_out_w)
    p_asleep_w = n * np.asarray(p_sleep_w, dtype=np.float64)
    return np.where(np.asarray(active, dtype=bool), p_active_w, p_asleep_w)


def model_power_w(model: PowerModel, prb_load: npt.ArrayLike, active: npt.ArrayLike) -> FloatArray:
    """Return the supply power of cells sharing one power model, W."""
    return input_power_w(
        model.num_trx,
        model.p0_w,
        model.delta_p,
        model.max_tx_power_per_trx_w,
        model.p_sleep_w,
        prb_load,
        active,
    )
