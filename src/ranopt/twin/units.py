"""Named unit conversions so that no kernel carries an unexplained ``10 * log10``."""

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

SPEED_OF_LIGHT_M_S = 299_792_458.0
THERMAL_NOISE_DBM_PER_HZ = -174.0  # kT at 290 K, 3GPP TR 38.901 / TR 36.814 noise floor


def db_to_lin(value_db: npt.ArrayLike) -> FloatArray:
    """Convert a power ratio in dB to a linear ratio."""
    return np.power(10.0, np.asarray(value_db, dtype=np.float64) / 10.0)


def lin_to_db(value_lin: npt.ArrayLike) -> FloatArray:
    """Convert a linear power ratio to dB (zero maps to -inf)."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.asarray(value_lin, dtype=np.float64))


def dbm_to_w(power_dbm: npt.ArrayLike) -> FloatArray:
    """Convert a power in dBm to watts."""
    return db_to_lin(power_dbm) / 1000.0


def w_to_dbm(power_w: npt.ArrayLike) -> FloatArray:
    """Convert a power in watts to dBm."""
    return lin_to_db(np.asarray(power_w, dtype=np.float64) * 1000.0)


def group_sum(index: npt.ArrayLike, weights: npt.ArrayLike, num_groups: int) -> FloatArray:
    """Sum ``weights`` per group ``index`` into ``[num_groups]`` (a typed ``np.bincount``)."""
    return np.asarray(
        np.bincount(np.asarray(index), weights=np.asarray(weights), minlength=num_groups),
        dtype=np.float64,
    )


def noise_power_dbm(bandwidth_hz: npt.ArrayLike, noise_figure_db: float) -> FloatArray:
    """Thermal noise plus receiver noise figure over a bandwidth, in dBm."""
    return THERMAL_NOISE_DBM_PER_HZ + lin_to_db(bandwidth_hz) + noise_figure_db
