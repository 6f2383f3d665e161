"""Traffic: per-UE DL demand over a day, with diurnal and weekly seasonality and randomness.

The shapes are modelling assumptions after published measurements, not 3GPP values: a user's
usage over the day follows the EARTH data-traffic profile (Auer et al. 2011, Fig. 4); where
it is used follows the user's presence (``ranopt.twin.mobility``): commuters carry their
daytime traffic into business areas, which therefore peak at midday (as office areas do in
Paul et al., "Understanding traffic dynamics in cellular data networks", INFOCOM 2011).
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranopt.twin.mobility import presence
from ranopt.twin.scenario import Scenario, TrafficVariability
from ranopt.twin.ues import UEs
from ranopt.twin.units import FloatArray

IntArray = npt.NDArray[np.int64]

# Relative usage of a user per hour of day (00:00-01:00 first), peak 1.0: the EARTH profile.
USAGE_HOURLY = np.array(
    [0.50, 0.34, 0.22, 0.15, 0.11, 0.10, 0.12, 0.20, 0.32, 0.42, 0.50, 0.56,
     0.60, 0.60, 0.60, 0.62, 0.66, 0.74, 0.84, 0.93, 0.99, 1.00, 0.90, 0.70]
)  # fmt: skip
# Relative usage per day of week (Monday first).
USAGE_WEEKDAY = np.array([1.00, 1.00, 1.00, 1.00, 1.02, 1.06, 1.05])


def diurnal_profile(intervals_per_day: int) -> FloatArray:
    """Return a user's relative usage per interval, ``[intervals_per_day]``.

    The hourly values are placed at mid-hour and interpolated periodically.
    """
    t_h = (np.arange(intervals_per_day) + 0.5) * 24.0 / intervals_per_day
    hours = np.arange(24) + 0.5
    return np.asarray(np.interp(t_h, hours, USAGE_HOURLY, period=24.0), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class TrafficModel:
    """What drives each UE's demand, arrays of shape ``[num_ues]``."""

    busy_hour_demand_mbps: FloatArray  # mean DL demand of the slot's user at the usage peak
    profile_kind: IntArray  # index into mobility.PROFILE_KINDS: the slot's presence
    home_site: IntArray  # traffic area of the slot
    num_sites: int
    intervals_per_day: int
    variability: TrafficVariability

    @property
    def num_ues(self) -> int:
        """Number of UEs."""
        return int(self.busy_hour_demand_mbps.shape[0])


def _lognormal_mean_one(
    rng: np.random.Generator, sigma: float, size: int | tuple[int, ...]
) -> FloatArray:
    """Log-normal factors with mean 1: ``exp(sigma Z - sigma^2 / 2)``."""
    return np.exp(sigma * rng.standard_normal(size) - 0.5 * sigma * sigma)


def build_traffic(scenario: Scenario, ues: UEs, rng: np.random.Generator) -> TrafficModel:
    """Give every user a mean busy-hour demand so that a site area offers the scenario's peak.

    Demand is log-normal across users and across home areas (spatial density) and weighted by
    slice (eMBB > URLLC > mMTC); the users' total at the usage peak equals
    ``busy_hour_demand_mbps_per_site * num_sites``. Each slot carries its user's figure.
    """
    num_users = ues.num_users
    home = ues.home_site[:num_users]  # home slots come first, in user order
    weight = _lognormal_mean_one(rng, scenario.ue_demand_sigma, num_users)
    area_density = _lognormal_mean_one(rng, scenario.area_density_sigma, scenario.num_sites)
    weight = weight * area_density[home]
    weight = weight * np.asarray(scenario.slice_demand_weight)[ues.slice_idx[:num_users]]
    # users without n78 support use less data (scenario.legacy_ue_demand_weight)
    weight = weight * np.where(ues.supports_n78[:num_users], 1.0, scenario.legacy_ue_demand_weight)
    total_mbps = scenario.busy_hour_demand_mbps_per_site * scenario.num_sites
    return TrafficModel(
        busy_hour_demand_mbps=(weight * (total_mbps / weight.sum()))[ues.user],
        profile_kind=ues.profile_kind,
        home_site=ues.home_site,
        num_sites=scenario.num_sites,
        intervals_per_day=scenario.intervals_per_day,
        variability=scenario.variability,
    )


def expected_demand_mbps(traffic: TrafficModel, day: int) -> FloatArray:
    """Return the seasonal mean demand of each UE slot in each interval of a day, ``[T, U]``.

    A user's usage profile times the slot's presence: a commuter's two slots add up to the
    user's demand in every interval.
    """
    usage = diurnal_profile(traffic.intervals_per_day) * USAGE_WEEKDAY[day % 7]  # [T]
    share = presence(traffic.intervals_per_day, day)[traffic.profile_kind].T  # [T, U]
    return np.asarray(
        usage[:, None] * share * traffic.busy_hour_demand_mbps[None, :], dtype=np.float64
    )


def busy_interval(traffic: TrafficModel, day: int) -> int:
    """Return the interval of a day with the highest expected network demand (the busy hour)."""
    return int(np.argmax(expected_demand_mbps(traffic, day).sum(axis=1)))


def realised_demand_mbps(traffic: TrafficModel, day: int, rng: np.random.Generator) -> FloatArray:
    """Return one random realisation of a day's demand, ``[T, num_ues]``, Mbit/s.

    The seasonal mean is multiplied by mean-one log-normal factors: one for the network and one
    per traffic area for the day, an AR(1) factor per area and interval, and one per UE and
    interval (``TrafficVariability``).
    """
    v = traffic.variability
    num_t = traffic.intervals_per_day
    day_factor = _lognormal_mean_one(rng, v.day_sigma, 1)
    area_factor = _lognormal_mean_one(rng, v.area_day_sigma, traffic.num_sites)  # [S]
    # AR(1) in log domain with stationary std area_interval_sigma: [T, S]
    innovation = rng.standard_normal((num_t, traffic.num_sites))
    log_ar = np.empty_like(innovation)
    log_ar[0] = innovation[0]
    rho = v.area_interval_rho
    for t in range(1, num_t):
        log_ar[t] = rho * log_ar[t - 1] + np.sqrt(1.0 - rho * rho) * innovation[t]
    area_interval = np.exp(v.area_interval_sigma * log_ar - 0.5 * v.area_interval_sigma**2)
    ue_factor = _lognormal_mean_one(rng, v.ue_interval_sigma, (num_t, traffic.num_ues))
    areas = traffic.home_site
    factor = day_factor * (area_factor[areas][None, :] * area_interval[:, areas]) * ue_factor
    return expected_demand_mbps(traffic, day) * factor


def day_rng(seed: int, day: int, stream: int = 0) -> np.random.Generator:
    """Return the generator of one day's randomness, independent of the order days are drawn."""
    return np.random.default_rng(np.random.SeedSequence([seed, day, stream]))


def demand_for_intervals(
    traffic: TrafficModel, seed: int, first_day: int, num_intervals: int
) -> FloatArray:
    """Return realised demand ``[num_intervals, num_ues]`` from the start of ``first_day``.

    Day ``d`` always draws from ``day_rng(seed, d)``, so a day's demand does not depend on how
    many days are simulated.
    """
    num_days = -(-num_intervals // traffic.intervals_per_day)
    days = [
        realised_demand_mbps(traffic, day, day_rng(seed, day))
        for day in range(first_day, first_day + num_days)
    ]
    return np.concatenate(days, axis=0)[:num_intervals]
