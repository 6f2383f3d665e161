"""Fixtures of the forecast tests."""

import pytest
from forecast_synthetic import SyntheticHistory, make_history


@pytest.fixture
def two_weeks() -> SyntheticHistory:
    """Fourteen synthetic days (two of each weekday), 48 intervals, 6 series."""
    return make_history(seed=11, num_days=14)
