"""Traffic model: busy-hour totals, seasonal profiles and reproducible random demand."""

import dataclasses

import numpy as np
import pytest

from ranopt.twin import Twin
from ranopt.twin.traffic import (
    HOURLY_PROFILE,
    WEEKDAY_FACTOR,
    day_rng,
    demand_for_intervals,
    diurnal_profile,
    expected_demand_mbps,
    realised_demand_mbps,
)
from ranopt.twin.ues import PROFILE_KINDS

MONDAY = 0  # WEEKDAY_FACTOR is 1.0 for both profiles on Monday
SATURDAY = 5


def _site_total_mbps(twin: Twin) -> float:
    return twin.scenario.busy_hour_demand_mbps_per_site * twin.scenario.num_sites


def test_busy_hour_demand_sums_to_the_site_total(default_twin: Twin) -> None:
    total = _site_total_mbps(default_twin)
    assert total == 420.0 * 19
    assert default_twin.traffic.busy_hour_demand_mbps.sum() == pytest.approx(total, rel=1e-12)
    assert np.all(default_twin.traffic.busy_hour_demand_mbps > 0)


def test_profile_peaks_sum_to_the_site_total_on_an_hourly_grid(default_twin: Twin) -> None:
    """Each UE at the peak hour of its own profile; the two profiles peak at different hours.

    On a 24-interval grid the interval centres fall on the hourly values, so the residential
    UEs at 21:00-22:00 plus the business UEs at 11:00-12:00 offer exactly the site total.
    """
    hourly = dataclasses.replace(default_twin.traffic, intervals_per_day=24)
    demand = expected_demand_mbps(hourly, MONDAY)  # [24, U]
    kind = default_twin.traffic.profile_kind
    peak_hour = np.argmax(HOURLY_PROFILE, axis=1)
    np.testing.assert_array_equal(peak_hour, [21, 11])  # residential evening, business midday
    at_own_peak = demand[peak_hour[kind], np.arange(kind.size)]
    assert at_own_peak.sum() == pytest.approx(_site_total_mbps(default_twin), rel=1e-12)
    # no single hour reaches it: the profiles peak apart
    assert demand.sum(axis=1).max() < 0.9 * _site_total_mbps(default_twin)


def test_profile_peaks_on_the_15_minute_grid(default_twin: Twin) -> None:
    """On 96 intervals the centres sit between the hourly points: the peaks are interpolated.

    Residential: 0.99 + 0.875 (1.00 - 0.99) = 0.99875 at 21:15; business: 0.97 + 0.875 (1.00 -
    0.97) = 0.99625 at 11:15. The sum of per-UE maxima is the total times these factors.
    """
    traffic = default_twin.traffic
    profile = diurnal_profile(traffic.intervals_per_day)
    np.testing.assert_allclose(profile.max(axis=1), [0.99875, 0.99625], rtol=1e-12)
    demand = expected_demand_mbps(traffic, MONDAY)  # [96, U]
    per_kind_max = np.array(
        [demand[:, traffic.profile_kind == k].max(axis=0).sum() for k in range(len(PROFILE_KINDS))]
    )
    per_kind_busy = np.array(
        [
            traffic.busy_hour_demand_mbps[traffic.profile_kind == k].sum()
            for k in range(len(PROFILE_KINDS))
        ]
    )
    np.testing.assert_allclose(per_kind_max, per_kind_busy * [0.99875, 0.99625], rtol=1e-12)
    assert per_kind_busy.sum() == pytest.approx(_site_total_mbps(default_twin), rel=1e-12)


def test_weekday_factor(default_twin: Twin) -> None:
    traffic = default_twin.traffic
    monday = expected_demand_mbps(traffic, MONDAY)
    saturday = expected_demand_mbps(traffic, SATURDAY)
    factor = WEEKDAY_FACTOR[traffic.profile_kind, SATURDAY]
    np.testing.assert_allclose(saturday, monday * factor[None, :], rtol=1e-12)
    np.testing.assert_array_equal(expected_demand_mbps(traffic, 7), monday)


def test_diurnal_profile_interpolates_hourly_values() -> None:
    hourly = diurnal_profile(24)
    np.testing.assert_allclose(hourly, HOURLY_PROFILE, rtol=1e-12)
    quarter = diurnal_profile(96)
    assert quarter.shape == (2, 96)
    assert np.all((quarter > 0) & (quarter <= 1.0))


def test_realised_demand_is_reproducible(seven_site_twin: Twin) -> None:
    traffic = seven_site_twin.traffic
    first = realised_demand_mbps(traffic, 3, day_rng(7, 3))
    again = realised_demand_mbps(traffic, 3, day_rng(7, 3))
    np.testing.assert_array_equal(first, again)
    assert first.shape == (traffic.intervals_per_day, traffic.num_ues)
    assert np.all(first > 0)
    assert not np.array_equal(first, realised_demand_mbps(traffic, 3, day_rng(8, 3)))
    assert not np.array_equal(first, realised_demand_mbps(traffic, 3, day_rng(7, 3, stream=1)))


def test_realised_demand_has_mean_one_factors(seven_site_twin: Twin) -> None:
    """Over 100 days the realised total is the seasonal total (mean-one log-normal factors).

    The network day factor (sigma 0.05) dominates the spread of the daily ratio: measured
    standard error of the 100-day mean 0.7 %. 3 % catches a factor that is not mean-one, e.g.
    a per-UE log-normal without its -sigma^2/2 correction (+4.6 %).
    """
    traffic = seven_site_twin.traffic
    ratios = np.array(
        [
            realised_demand_mbps(traffic, day, day_rng(1, day)).sum()
            / expected_demand_mbps(traffic, day).sum()
            for day in range(100)
        ]
    )
    assert ratios.mean() == pytest.approx(1.0, abs=0.03)
    # per UE over days and intervals as well, not only in total
    realised = np.concatenate(
        [realised_demand_mbps(traffic, day, day_rng(1, day)) for day in range(0, 100, 5)]
    )
    expected = np.concatenate([expected_demand_mbps(traffic, day) for day in range(0, 100, 5)])
    per_ue_ratio = realised.sum(axis=0) / expected.sum(axis=0)
    assert np.median(per_ue_ratio) == pytest.approx(1.0, abs=0.05)


def test_demand_for_intervals_is_day_by_day(seven_site_twin: Twin) -> None:
    traffic = seven_site_twin.traffic
    half = demand_for_intervals(traffic, 4, 0, 48)
    full = demand_for_intervals(traffic, 4, 0, 96)
    two_days = demand_for_intervals(traffic, 4, 0, 192)
    assert half.shape == (48, traffic.num_ues)
    np.testing.assert_array_equal(half, full[:48])
    np.testing.assert_array_equal(two_days[:96], full)
    # day 1 does not depend on whether day 0 was drawn
    np.testing.assert_array_equal(two_days[96:], demand_for_intervals(traffic, 4, 1, 96))
    np.testing.assert_array_equal(full, realised_demand_mbps(traffic, 0, day_rng(4, 0)))
