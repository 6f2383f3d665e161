"""Attenuated Shannon bound of TR 36.942 Annex A with the NR spectral-efficiency cap."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranopt.twin.link import spectral_efficiency
from ranopt.twin.units import db_to_lin

ALPHA = 0.6  # TR 36.942 Annex A.2
SE_MAX = 7.4063  # TS 38.214 Table 5.2.2.1-3, CQI 15


def test_zero_db() -> None:
    assert float(spectral_efficiency(1.0)) == pytest.approx(0.6, rel=1e-12)


def test_twenty_db() -> None:
    assert float(spectral_efficiency(100.0)) == pytest.approx(0.6 * math.log2(101.0), rel=1e-12)


@pytest.mark.parametrize("sinr_db", [-10.01, -15.0, -40.0])
def test_zero_below_sinr_min(sinr_db: float) -> None:
    assert float(spectral_efficiency(db_to_lin(sinr_db))) == 0.0


def test_at_sinr_min_still_served() -> None:
    assert float(spectral_efficiency(0.1)) == pytest.approx(0.6 * math.log2(1.1), rel=1e-12)


@pytest.mark.parametrize("sinr_db", [37.2, 40.0, 80.0])
def test_cap_at_high_sinr(sinr_db: float) -> None:
    # 0.6 log2(1 + SINR) reaches 7.4063 at SINR = 2^(7.4063/0.6) - 1 = 37.16 dB
    assert float(spectral_efficiency(db_to_lin(sinr_db))) == SE_MAX


@settings(max_examples=50, deadline=None)
@given(sinr_db=st.lists(st.floats(-30.0, 60.0), min_size=1, max_size=30))
def test_matches_scalar_formula_and_is_monotone(sinr_db: list[float]) -> None:
    sinr_lin = [10.0 ** (x / 10.0) for x in sorted(sinr_db)]
    expected = [
        min(ALPHA * math.log2(1.0 + s), SE_MAX) if s >= 10.0 ** (-1.0) else 0.0 for s in sinr_lin
    ]
    se = spectral_efficiency(np.array(sinr_lin))
    np.testing.assert_allclose(se, expected, rtol=1e-12, atol=0)
    assert np.all(np.diff(se) >= 0.0)
