"""TR 38.901 Table 7.3-1 antenna element and the gains built on it."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranopt.twin.antenna import array_gain_db, element_gain_dbi, sector_gain_dbi, wrap_angle_deg

G_MAX_DBI = 8.0  # TR 38.901 Table 7.3-1: G_E,max
A_MAX_DB = 30.0  # TR 38.901 Table 7.3-1: A_max (front-to-back) and SLA_V


def test_boresight_gain_is_8dbi() -> None:
    assert float(element_gain_dbi(0.0, 90.0)) == G_MAX_DBI


@pytest.mark.parametrize("phi_deg", [32.5, -32.5])
def test_half_hpbw_azimuth_is_3db_down(phi_deg: float) -> None:
    # 12 (32.5 / 65)^2 = 12 * 0.25 = 3 dB
    assert float(element_gain_dbi(phi_deg, 90.0)) == pytest.approx(G_MAX_DBI - 3.0, abs=1e-12)


@pytest.mark.parametrize("theta_deg", [57.5, 122.5])
def test_half_hpbw_elevation_is_3db_down(theta_deg: float) -> None:
    assert float(element_gain_dbi(0.0, theta_deg)) == pytest.approx(G_MAX_DBI - 3.0, abs=1e-12)


@pytest.mark.parametrize("phi_deg", [180.0, -180.0, 540.0, 120.0])
def test_back_lobe_floor(phi_deg: float) -> None:
    # 12 (120 / 65)^2 = 40.9 dB > A_max: the horizontal cut is floored at 8 - 30 = -22 dBi
    assert float(element_gain_dbi(phi_deg, 90.0)) == G_MAX_DBI - A_MAX_DB


def test_vertical_side_lobe_floor() -> None:
    # 12 ((theta - 90) / 65)^2 reaches SLA_V = 30 dB only beyond |theta - 90| = 102.8 deg, so the
    # floor shows on the mathematical extension of the zenith angle (the kernel broadcasts it).
    theta_deg = np.array([-20.0, -60.0, 200.0])
    np.testing.assert_array_equal(element_gain_dbi(0.0, theta_deg), G_MAX_DBI - A_MAX_DB)
    # within [0, 180] the vertical cut alone stays above the floor: 12 (90/65)^2 = 23.0 dB
    assert float(element_gain_dbi(0.0, 180.0)) == pytest.approx(
        G_MAX_DBI - 12.0 * (90.0 / 65.0) ** 2, abs=1e-12
    )


def test_combined_attenuation_floor() -> None:
    # A_H = 12 (90/65)^2 = 23.0 dB, A_V = 12 (60/65)^2 = 10.2 dB: sum 33.2 dB, floored at A_max
    assert float(element_gain_dbi(90.0, 150.0)) == G_MAX_DBI - A_MAX_DB
    # below the floor the two cuts add: A_H = 12 (60/65)^2, A_V = 12 (40/65)^2
    expected = G_MAX_DBI - 12.0 * (60.0 / 65.0) ** 2 - 12.0 * (40.0 / 65.0) ** 2
    assert float(element_gain_dbi(60.0, 130.0)) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(phi_deg=st.floats(-720.0, 720.0), theta_deg=st.floats(0.0, 180.0))
def test_gain_bounded_and_symmetric(phi_deg: float, theta_deg: float) -> None:
    gain = float(element_gain_dbi(phi_deg, theta_deg))
    assert G_MAX_DBI - A_MAX_DB <= gain <= G_MAX_DBI
    assert float(element_gain_dbi(-phi_deg, theta_deg)) == pytest.approx(gain, abs=1e-9)
    assert float(element_gain_dbi(phi_deg + 360.0, theta_deg)) == pytest.approx(gain, abs=1e-9)


def test_wrap_angle() -> None:
    np.testing.assert_array_equal(
        wrap_angle_deg([0.0, 180.0, -180.0, 190.0, 360.0, -190.0]),
        [0.0, -180.0, -180.0, -170.0, 0.0, 170.0],
    )


def test_downtilt_moves_the_peak_below_the_horizon() -> None:
    tilt_deg = 12.0
    assert float(sector_gain_dbi(0.0, 90.0 + tilt_deg, tilt_deg)) == G_MAX_DBI
    # at the horizon a 12 deg tilt costs 12 (12/65)^2 dB
    assert float(sector_gain_dbi(0.0, 90.0, tilt_deg)) == pytest.approx(
        G_MAX_DBI - 12.0 * (12.0 / 65.0) ** 2, abs=1e-12
    )


def test_array_gain() -> None:
    np.testing.assert_allclose(array_gain_db([1, 8, 32]), [0.0, 9.0309, 15.0515], atol=1e-4)
