"""Antenna patterns: the TR 38.901 Table 7.3-1 element and the array gains built on it."""

import numpy as np
import numpy.typing as npt

from ranopt.twin.units import FloatArray, lin_to_db

ELEMENT_HPBW_DEG = 65.0  # TR 38.901 Table 7.3-1: theta_3dB = phi_3dB = 65 deg
ELEMENT_SLA_V_DB = 30.0  # TR 38.901 Table 7.3-1: side-lobe attenuation SLA_V
ELEMENT_FRONT_TO_BACK_DB = 30.0  # TR 38.901 Table 7.3-1: A_max
ELEMENT_MAX_GAIN_DBI = 8.0  # TR 38.901 Table 7.3-1: G_E,max


def wrap_angle_deg(angle_deg: npt.ArrayLike) -> FloatArray:
    """Wrap an angle to [-180, 180) degrees."""
    return (np.asarray(angle_deg, dtype=np.float64) + 180.0) % 360.0 - 180.0


def element_gain_dbi(phi_deg: npt.ArrayLike, theta_deg: npt.ArrayLike) -> FloatArray:
    """Return the gain of one TR 38.901 antenna element, in dBi.

    Parameters
    ----------
    phi_deg
        Azimuth off boresight in degrees (wrapped to [-180, 180)).
    theta_deg
        Zenith angle in the element's own frame in degrees: 90 is the boresight horizon.
    """
    phi = wrap_angle_deg(phi_deg)
    theta = np.asarray(theta_deg, dtype=np.float64)
    # TR 38.901 Table 7.3-1: A_dB(theta, 90) = -min(12 ((theta - 90)/theta_3dB)^2, SLA_V)
    a_vertical_db = -np.minimum(12.0 * ((theta - 90.0) / ELEMENT_HPBW_DEG) ** 2, ELEMENT_SLA_V_DB)
    # TR 38.901 Table 7.3-1: A_dB(90, phi) = -min(12 (phi/phi_3dB)^2, A_max)
    a_horizontal_db = -np.minimum(12.0 * (phi / ELEMENT_HPBW_DEG) ** 2, ELEMENT_FRONT_TO_BACK_DB)
    # TR 38.901 Table 7.3-1: A = -min(-(A_V + A_H), A_max); gain = G_E,max + A
    attenuation_db = -np.minimum(-(a_vertical_db + a_horizontal_db), ELEMENT_FRONT_TO_BACK_DB)
    return np.asarray(ELEMENT_MAX_GAIN_DBI + attenuation_db, dtype=np.float64)


def element_gain_upper_bound_dbi(phi_deg: npt.ArrayLike) -> FloatArray:
    """Return an upper bound on ``element_gain_dbi`` at azimuth ``phi_deg``, any zenith angle.

    TR 38.901 Table 7.3-1: A = -min(-(A_V + A_H), A_max) <= A_H since A_V <= 0 and
    -A_H <= A_max, so the gain is at most G_E,max + A_H(phi).
    """
    phi = wrap_angle_deg(phi_deg)
    a_horizontal_db = -np.minimum(12.0 * (phi / ELEMENT_HPBW_DEG) ** 2, ELEMENT_FRONT_TO_BACK_DB)
    return np.asarray(ELEMENT_MAX_GAIN_DBI + a_horizontal_db, dtype=np.float64)


def sector_gain_dbi(
    phi_deg: npt.ArrayLike, theta_deg: npt.ArrayLike, downtilt_deg: npt.ArrayLike
) -> FloatArray:
    """Return the element gain toward a UE seen from a sector tilted down by ``downtilt_deg``.

    ``theta_deg`` is the global zenith angle of the UE (90 = horizon, >90 below it). A downtilt
    rotates the boresight below the horizon; for the small tilts of macro sites the rotation of
    TR 38.901 clause 7.1.3 reduces, to first order, to a shift of the zenith angle.
    """
    theta_local = np.asarray(theta_deg, dtype=np.float64) - np.asarray(
        downtilt_deg, dtype=np.float64
    )
    return element_gain_dbi(phi_deg, theta_local)


def array_gain_db(num_elements: npt.ArrayLike) -> FloatArray:
    """Return the coherent array gain of ``num_elements`` half-wavelength-spaced elements, in dB.

    The peak gain of a uniform array of N elements over one element is N (TR 38.901 clause
    7.3, panel model with d = lambda/2).
    """
    return lin_to_db(np.asarray(num_elements, dtype=np.float64))
