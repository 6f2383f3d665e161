"""Traffic model: busy-hour totals, usage and presence profiles, reproducible random demand."""

import dataclasses

import numpy as np
import pytest

from ranopt.twin import Twin
from ranopt.twin.mobility import (
    AT_WORK_HOURLY,
    AT_WORK_WEEKDAY,
    COMMUTER_HOME,
    COMMUTER_WORK,
    RESIDENT,
    at_work_share,
    presence,
)
from ranopt.twin.traffic import (
    USAGE_HOURLY,
    USAGE_WEEKDAY,
    day_rng,
    demand_for_intervals,
    diurnal_profile,
    expected_demand_mbps,
    realised_demand_mbps,
)
from ranopt.twin.units import group_sum

MONDAY = 0  # USAGE_WEEKDAY and AT_WORK_WEEKDAY are 1.0 on Monday
SATURDAY = 5


def _site_total_mbps(twin: Twin) -> float:
    return twin.scenario.busy_hour_demand_mbps_per_site * twin.scenario.num_sites


def _per_user(twin: Twin, demand: np.ndarray) -> np.ndarray:
    """Slot demand [T, U] summed per user [T, users]."""
    ues = twin.ues
    return np.stack([group_sum(ues.user, row, ues.num_users) for row in demand])


def test_busy_hour_demand_sums_to_the_site_total(default_twin: Twin) -> None:
    total = _site_total_mbps(default_twin)
    assert total == 90.0 * 19
    traffic, ues = default_twin.traffic, default_twin.ues
    home_slots = traffic.busy_hour_demand_mbps[: ues.num_users]
    assert home_slots.sum() == pytest.approx(total, rel=1e-12)
    # every slot carries its user's figure
    np.testing.assert_array_equal(traffic.busy_hour_demand_mbps, home_slots[ues.user])
    assert np.all(traffic.busy_hour_demand_mbps > 0)


def test_usage_peak_offers_the_site_total_on_an_hourly_grid(default_twin: Twin) -> None:
    """At 21:00-22:00 every user is home at the usage peak (1.00): the network offers the total.

    On a 24-interval grid the interval centres fall on the hourly values; at 21:00 the
    commuters' at-work share is 0, so their home slots carry all of it.
    """
    hourly = dataclasses.replace(default_twin.traffic, intervals_per_day=24)
    demand = expected_demand_mbps(hourly, MONDAY)  # [24, U]
    assert int(np.argmax(USAGE_HOURLY)) == 21
    assert AT_WORK_HOURLY[21] == 0.0
    assert demand[21].sum() == pytest.approx(_site_total_mbps(default_twin), rel=1e-12)
    work = default_twin.ues.profile_kind == COMMUTER_WORK
    assert demand[21, work].sum() == 0.0
    assert demand.sum(axis=1).max() == pytest.approx(demand[21].sum(), rel=1e-12)


def test_a_commuters_two_slots_add_up_to_the_user(default_twin: Twin) -> None:
    """Demand moves between home and work; per user it is usage x weekday x busy demand."""
    traffic, ues = default_twin.traffic, default_twin.ues
    for day in (MONDAY, SATURDAY):
        demand = expected_demand_mbps(traffic, day)  # [96, U]
        usage = diurnal_profile(traffic.intervals_per_day) * USAGE_WEEKDAY[day]
        expected = usage[:, None] * traffic.busy_hour_demand_mbps[None, : ues.num_users]
        np.testing.assert_allclose(_per_user(default_twin, demand), expected, rtol=1e-12)


def test_commuters_move_to_work_on_weekdays(default_twin: Twin) -> None:
    traffic, ues = default_twin.traffic, default_twin.ues
    work = ues.profile_kind == COMMUTER_WORK
    home = ues.profile_kind == COMMUTER_HOME
    assert work.sum() == home.sum() > 0
    assert (ues.profile_kind[: ues.num_users] != COMMUTER_WORK).all()
    demand = expected_demand_mbps(traffic, MONDAY)  # [96, U]
    at_11 = 11 * 4 + 1  # 11:15-11:30
    at_3 = 3 * 4
    # at 11:15 most of a commuter's traffic is at work, at 03:00 none of it
    assert demand[at_11, work].sum() > 4 * demand[at_11, home].sum()
    assert demand[at_3, work].sum() == 0.0
    # a work slot is in a business area or a business hotspot, away from home in general
    moved = np.hypot(
        ues.x_m[work] - ues.x_m[ues.user[work]], ues.y_m[work] - ues.y_m[ues.user[work]]
    )
    assert np.median(moved) > default_twin.scenario.isd_m / 2


def test_presence_shares_add_to_one() -> None:
    for day in range(7):
        share = presence(96, day)
        assert share.shape == (3, 96)
        np.testing.assert_allclose(share[RESIDENT], 1.0)
        np.testing.assert_allclose(share[COMMUTER_HOME] + share[COMMUTER_WORK], 1.0)
    # Monday at 10:00-11:00 on the hourly grid: AT_WORK_HOURLY[10]; Sunday scaled by 0.05
    assert at_work_share(24, MONDAY)[10] == AT_WORK_HOURLY[10]
    assert at_work_share(24, 6)[10] == pytest.approx(AT_WORK_HOURLY[10] * AT_WORK_WEEKDAY[6])


def test_weekday_factor(default_twin: Twin) -> None:
    traffic = default_twin.traffic
    monday = expected_demand_mbps(traffic, MONDAY)
    saturday = expected_demand_mbps(traffic, SATURDAY)
    resident = default_twin.ues.profile_kind == RESIDENT
    np.testing.assert_allclose(
        saturday[:, resident], monday[:, resident] * USAGE_WEEKDAY[SATURDAY], rtol=1e-12
    )
    np.testing.assert_array_equal(expected_demand_mbps(traffic, 7), monday)


def test_diurnal_profile_interpolates_hourly_values() -> None:
    np.testing.assert_allclose(diurnal_profile(24), USAGE_HOURLY, rtol=1e-12)
    quarter = diurnal_profile(96)
    assert quarter.shape == (96,)
    assert np.all((quarter > 0) & (quarter <= 1.0))
    # 21:15 lies 7/8 of the way from 20:30 (0.99) to 21:30 (1.00)
    assert quarter.max() == pytest.approx(0.99 + 0.875 * 0.01, rel=1e-12)


def test_realised_demand_is_reproducible(seven_site_twin: Twin) -> None:
    traffic = seven_site_twin.traffic
    first = realised_demand_mbps(traffic, 3, day_rng(7, 3))
    again = realised_demand_mbps(traffic, 3, day_rng(7, 3))
    np.testing.assert_array_equal(first, again)
    assert first.shape == (traffic.intervals_per_day, traffic.num_ues)
    assert np.all(first >= 0)
    # everyone is somewhere: a user's demand is positive in every interval
    ues = seven_site_twin.ues
    per_user = np.stack([group_sum(ues.user, row, ues.num_users) for row in first])
    assert np.all(per_user > 0)
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


def test_users_without_n78_use_less_data(default_twin: Twin) -> None:
    """Opensignal (Oct. 2020): 5G users consume 1.7-2.7x a 4G user's data; the twin gives users
    without n78 0.45 of the busy-hour demand. Per-user demand is log-normal (sigma 0.6 each for
    the user and the area), so the ratio of means over 4 000 users is checked to 0.1."""
    ues, traffic = default_twin.ues, default_twin.traffic
    users = ues.num_users
    busy = traffic.busy_hour_demand_mbps[:users]
    legacy = ~ues.supports_n78[:users]
    ratio = busy[legacy].mean() / busy[~legacy].mean()
    assert ratio == pytest.approx(default_twin.scenario.legacy_ue_demand_weight, abs=0.1)
