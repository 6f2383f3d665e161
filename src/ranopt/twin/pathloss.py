"""Large-scale propagation of 3GPP TR 38.901 V17: path loss, LOS probability, shadowing, O2I.

All functions are vectorised: arguments broadcast against each other. Distances are in metres,
heights in metres, carrier frequency in GHz, losses in dB.
"""

from typing import Literal

import numpy as np
import numpy.typing as npt

from ranopt.errors import ValidationError
from ranopt.twin.units import SPEED_OF_LIGHT_M_S, FloatArray, db_to_lin, lin_to_db

Environment = Literal["UMa", "UMi"]
ENVIRONMENTS: tuple[Environment, ...] = ("UMa", "UMi")

EFFECTIVE_ENVIRONMENT_HEIGHT_M = (
    1.0  # TR 38.901 Table 7.4.1-1 note 1: h_E = 1 m (UMi always; UMa taken as 1 m)
)
MIN_D2D_M = 10.0  # TR 38.901 Table 7.4.1-1: LOS formulas hold for d_2D >= 10 m

# TR 38.901 Table 7.4.1-1: shadow-fading standard deviation per scenario and LOS state, dB
SHADOW_FADING_STD_DB: dict[tuple[Environment, bool], float] = {
    ("UMa", True): 4.0,
    ("UMa", False): 6.0,
    ("UMi", True): 4.0,
    ("UMi", False): 7.82,
}
O2I_LOW_LOSS_STD_DB = 4.4  # TR 38.901 Table 7.4.3-2, low-loss model sigma_P
O2I_HIGH_LOSS_STD_DB = 6.5  # TR 38.901 Table 7.4.3-2, high-loss model sigma_P


def _check_environment(env: str) -> Environment:
    if env not in ENVIRONMENTS:
        msg = f"env must be one of {ENVIRONMENTS}, got {env!r}"
        raise ValidationError(msg)
    return "UMa" if env == "UMa" else "UMi"


def distance_3d_m(d2d_m: npt.ArrayLike, h_bs_m: npt.ArrayLike, h_ut_m: npt.ArrayLike) -> FloatArray:
    """Return the 3D distance between a BS antenna and a UE, in metres (TR 38.901 Fig. 7.4.1-1)."""
    d2d = np.asarray(d2d_m, dtype=np.float64)
    dh = np.asarray(h_bs_m, dtype=np.float64) - np.asarray(h_ut_m, dtype=np.float64)
    return np.sqrt(d2d * d2d + dh * dh)


def breakpoint_distance_m(
    h_bs_m: npt.ArrayLike, h_ut_m: npt.ArrayLike, fc_ghz: npt.ArrayLike
) -> FloatArray:
    """Return the breakpoint distance d'_BP on effective antenna heights, in metres."""
    h_bs_eff = np.asarray(h_bs_m, dtype=np.float64) - EFFECTIVE_ENVIRONMENT_HEIGHT_M
    h_ut_eff = np.asarray(h_ut_m, dtype=np.float64) - EFFECTIVE_ENVIRONMENT_HEIGHT_M
    fc_hz = np.asarray(fc_ghz, dtype=np.float64) * 1e9
    # TR 38.901 Table 7.4.1-1 note 1: d'_BP = 4 h'_BS h'_UT f_c / c
    return 4.0 * h_bs_eff * h_ut_eff * fc_hz / SPEED_OF_LIGHT_M_S


def _pathloss_los_db(
    env: Environment, d2d: FloatArray, h_bs: FloatArray, h_ut: FloatArray, fc: FloatArray
) -> FloatArray:
    d3d = distance_3d_m(d2d, h_bs, h_ut)
    d_bp = breakpoint_distance_m(h_bs, h_ut, fc)
    log_fc = np.log10(fc)
    log_d3d = np.log10(d3d)
    dh2 = (h_bs - h_ut) ** 2
    if env == "UMa":
        # TR 38.901 Table 7.4.1-1, UMa LOS PL1 and PL2
        pl1 = 28.0 + 22.0 * log_d3d + 20.0 * log_fc
        pl2 = 28.0 + 40.0 * log_d3d + 20.0 * log_fc - 9.0 * np.log10(d_bp**2 + dh2)
    else:
        # TR 38.901 Table 7.4.1-1, UMi-Street Canyon LOS PL1 and PL2
        pl1 = 32.4 + 21.0 * log_d3d + 20.0 * log_fc
        pl2 = 32.4 + 40.0 * log_d3d + 20.0 * log_fc - 9.5 * np.log10(d_bp**2 + dh2)
    return np.where(d2d <= d_bp, pl1, pl2)


def _pathloss_nlos_db(
    env: Environment, d2d: FloatArray, h_bs: FloatArray, h_ut: FloatArray, fc: FloatArray
) -> FloatArray:
    d3d = distance_3d_m(d2d, h_bs, h_ut)
    if env == "UMa":
        # TR 38.901 Table 7.4.1-1, UMa NLOS PL'_UMa-NLOS
        pl_nlos = 13.54 + 39.08 * np.log10(d3d) + 20.0 * np.log10(fc) - 0.6 * (h_ut - 1.5)
    else:
        # TR 38.901 Table 7.4.1-1, UMi-Street Canyon NLOS PL'_UMi-NLOS
        pl_nlos = 35.3 * np.log10(d3d) + 22.4 + 21.3 * np.log10(fc) - 0.3 * (h_ut - 1.5)
    # TR 38.901 Table 7.4.1-1: PL_NLOS = max(PL_LOS, PL'_NLOS)
    return np.maximum(_pathloss_los_db(env, d2d, h_bs, h_ut, fc), pl_nlos)


def pathloss_db(
    env: str,
    los: npt.ArrayLike,
    d2d_m: npt.ArrayLike,
    h_bs_m: npt.ArrayLike,
    h_ut_m: npt.ArrayLike,
    fc_ghz: npt.ArrayLike,
) -> FloatArray:
    """Return the basic path loss of TR 38.901 Table 7.4.1-1, in dB.

    Parameters
    ----------
    env
        ``"UMa"`` or ``"UMi"`` (UMi-Street Canyon).
    los
        Line-of-sight state (bool), broadcast with the distances.
    d2d_m
        Horizontal BS-UE distance in metres; values below 10 m are evaluated at 10 m.
    h_bs_m, h_ut_m
        BS antenna and UE heights in metres.
    fc_ghz
        Carrier frequency in GHz.
    """
    environment = _check_environment(env)
    d2d, h_bs, h_ut, fc, los_b = np.broadcast_arrays(
        np.maximum(np.asarray(d2d_m, dtype=np.float64), MIN_D2D_M),
        np.asarray(h_bs_m, dtype=np.float64),
        np.asarray(h_ut_m, dtype=np.float64),
        np.asarray(fc_ghz, dtype=np.float64),
        np.asarray(los, dtype=bool),
    )
    pl_los = _pathloss_los_db(environment, d2d, h_bs, h_ut, fc)
    pl_nlos = _pathloss_nlos_db(environment, d2d, h_bs, h_ut, fc)
    return np.where(los_b, pl_los, pl_nlos)


def _los_base(environment: str, d: FloatArray) -> FloatArray:
    """TR 38.901 Table 7.4.2-1 beyond 18 m: ``18/d + exp(-d/d_1)(1 - 18/d)``.

    ``d_1`` is 36 m in UMi-Street Canyon and 63 m in UMa.
    """
    d_1 = 36.0 if environment == "UMi" else 63.0
    return np.asarray(18.0 / d + np.exp(-d / d_1) * (1.0 - 18.0 / d), dtype=np.float64)


def _uma_height_factor(h_ut: FloatArray, d: FloatArray) -> FloatArray:
    """TR 38.901 Table 7.4.2-1, UMa: ``1 + C'(h_UT) 5/4 (d/100)^3 exp(-d/150)``.

    ``C'(h_UT)`` is 0 for h_UT <= 13 m and ``((h_UT - 13)/10)^1.5`` up to 23 m.
    """
    c_h = np.where(h_ut <= 13.0, 0.0, (np.clip(h_ut, 13.0, 23.0) - 13.0) / 10.0) ** 1.5
    return np.asarray(1.0 + c_h * 1.25 * (d / 100.0) ** 3 * np.exp(-d / 150.0), dtype=np.float64)


def los_probability(env: str, d2d_m: npt.ArrayLike, h_ut_m: npt.ArrayLike) -> FloatArray:
    """Return the LOS probability of TR 38.901 Table 7.4.2-1 (outdoor distance in metres)."""
    environment = _check_environment(env)
    d = np.maximum(np.asarray(d2d_m, dtype=np.float64), 1e-9)
    h_ut = np.asarray(h_ut_m, dtype=np.float64)
    base = _los_base(environment, d)
    if environment == "UMi":
        p_far = np.broadcast_to(base, np.broadcast_shapes(d.shape, h_ut.shape))
    else:
        p_far = base * _uma_height_factor(h_ut, d)
    return np.where(d <= 18.0, 1.0, np.clip(p_far, 0.0, 1.0))


def los_probability_upper_bound(
    env: str, d2d_min_m: npt.ArrayLike, h_ut_m: npt.ArrayLike
) -> FloatArray:
    """Return an upper bound on ``los_probability`` over every distance ``d_2D >= d2d_min_m``.

    TR 38.901 Table 7.4.2-1: ``18/d + exp(-d/d_1)(1 - 18/d)`` decreases beyond 18 m (its
    derivative is ``-(18/d^2)(1 - e^(-d/d_1)) - e^(-d/d_1)(1 - 18/d)/d_1 < 0``); the UMa factor
    ``1 + C'(h_UT) 5/4 (d/100)^3 exp(-d/150)`` peaks at ``d = 450`` m, so its value at
    ``max(d_min, 450)`` bounds it over ``d >= d_min``. A safe bound for pruning far sites.
    """
    environment = _check_environment(env)
    d = np.maximum(np.asarray(d2d_min_m, dtype=np.float64), 1e-9)
    h_ut = np.asarray(h_ut_m, dtype=np.float64)
    base = _los_base(environment, d)
    if environment == "UMi":
        bound = np.broadcast_to(base, np.broadcast_shapes(d.shape, h_ut.shape))
    else:
        peak = np.maximum(d, 450.0)  # argmax of (d/100)^3 exp(-d/150)
        bound = base * _uma_height_factor(h_ut, peak)
    return np.asarray(np.where(d <= 18.0, 1.0, np.clip(bound, 0.0, 1.0)), dtype=np.float64)


def shadow_fading_std_db(env: str, los: npt.ArrayLike) -> FloatArray:
    """Return the log-normal shadow-fading sigma of TR 38.901 Table 7.4.1-1, in dB."""
    environment = _check_environment(env)
    los_b = np.asarray(los, dtype=bool)
    return np.where(
        los_b,
        SHADOW_FADING_STD_DB[(environment, True)],
        SHADOW_FADING_STD_DB[(environment, False)],
    )


def o2i_low_loss_db(fc_ghz: npt.ArrayLike, d2d_in_m: npt.ArrayLike) -> FloatArray:
    """Return the mean O2I building penetration loss of the low-loss model, in dB.

    TR 38.901 Table 7.4.3-2 (low-loss, glass + concrete); the caller adds the N(0, sigma_P)
    term with sigma_P = ``O2I_LOW_LOSS_STD_DB``.
    """
    fc = np.asarray(fc_ghz, dtype=np.float64)
    # TR 38.901 Table 7.4.3-1: L_glass = 2 + 0.2 f, L_concrete = 5 + 4 f (f in GHz)
    l_glass_db = 2.0 + 0.2 * fc
    l_concrete_db = 5.0 + 4.0 * fc
    # TR 38.901 Table 7.4.3-2: PL_tw = 5 - 10 log10(0.3 10^(-L_glass/10) + 0.7 10^(-L_concrete/10))
    pl_tw_db = 5.0 - lin_to_db(0.3 * db_to_lin(-l_glass_db) + 0.7 * db_to_lin(-l_concrete_db))
    # TR 38.901 Table 7.4.3-2: PL_in = 0.5 d_2D-in
    pl_in_db = 0.5 * np.asarray(d2d_in_m, dtype=np.float64)
    return pl_tw_db + pl_in_db


def o2i_high_loss_db(fc_ghz: npt.ArrayLike, d2d_in_m: npt.ArrayLike) -> FloatArray:
    """Return the mean O2I building penetration loss of the high-loss model, in dB.

    TR 38.901 Table 7.4.3-2 (high-loss: IRR glass + concrete); the caller adds the N(0,
    sigma_P) term with sigma_P = ``O2I_HIGH_LOSS_STD_DB``.
    """
    fc = np.asarray(fc_ghz, dtype=np.float64)
    # TR 38.901 Table 7.4.3-1: L_IRRglass = 23 + 0.3 f, L_concrete = 5 + 4 f (f in GHz)
    l_irr_glass_db = 23.0 + 0.3 * fc
    l_concrete_db = 5.0 + 4.0 * fc
    # TR 38.901 Table 7.4.3-2: PL_tw = 5 - 10 log10(0.7 10^(-L_IRR/10) + 0.3 10^(-L_conc/10))
    pl_tw_db = 5.0 - lin_to_db(0.7 * db_to_lin(-l_irr_glass_db) + 0.3 * db_to_lin(-l_concrete_db))
    # TR 38.901 Table 7.4.3-2: PL_in = 0.5 d_2D-in
    return pl_tw_db + 0.5 * np.asarray(d2d_in_m, dtype=np.float64)


def pathloss_lower_bound_db(
    env: str,
    los: npt.ArrayLike,
    d2d_m: npt.ArrayLike,
    h_ut_m: npt.ArrayLike,
    fc_ghz: npt.ArrayLike,
) -> FloatArray:
    """Return a lower bound on ``pathloss_db`` for any BS height, in dB (a safe pruning bound).

    TR 38.901 Table 7.4.1-1: LOS PL2 >= PL1 beyond the breakpoint (PL2 - PL1 = 9 (UMa) or 9.5
    (UMi) x log10(d_3D^2 / (d'_BP^2 + (h_BS - h_UT)^2)) >= 0 for d_2D >= d'_BP), so
    PL_LOS >= PL1; PL_NLOS = max(PL_LOS, PL'_NLOS) >= max(PL1, PL'_NLOS); each is increasing in
    d_3D >= d_2D (evaluated at 10 m at least, as ``pathloss_db`` does) and in f_c, so
    evaluating them at d_2D and at a lower f_c bounds them from below.
    """
    environment = _check_environment(env)
    log_d = np.log10(np.maximum(np.asarray(d2d_m, dtype=np.float64), MIN_D2D_M))
    log_fc = np.log10(np.asarray(fc_ghz, dtype=np.float64))
    h_ut = np.asarray(h_ut_m, dtype=np.float64)
    if environment == "UMa":
        pl1 = 28.0 + 22.0 * log_d + 20.0 * log_fc  # TR 38.901 Table 7.4.1-1, UMa LOS PL1
        # TR 38.901 Table 7.4.1-1, UMa PL'_NLOS
        nlos = 13.54 + 39.08 * log_d + 20.0 * log_fc - 0.6 * (h_ut - 1.5)
    else:
        pl1 = 32.4 + 21.0 * log_d + 20.0 * log_fc  # TR 38.901 Table 7.4.1-1, UMi LOS PL1
        # TR 38.901 Table 7.4.1-1, UMi-Street Canyon PL'_NLOS
        nlos = 35.3 * log_d + 22.4 + 21.3 * log_fc - 0.3 * (h_ut - 1.5)
    return np.asarray(
        np.where(np.asarray(los, dtype=bool), pl1, np.maximum(pl1, nlos)), dtype=np.float64
    )
