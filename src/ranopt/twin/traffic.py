"""Traffic: per-UE DL demand over a day, with diurnal and weekly seasonality and randomness.

The shapes are modelling assumptions after published measurements, not 3GPP values: the daily
curve follows the EARTH data-traffic profile (Auer et al. 2011, Fig. 4) for residential areas,
and office areas peak at midday (Paul et al., "Understanding traffic dynamics in cellular data
networks", INFOCOM 2011).
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranopt.twin.scenario import Scenario, TrafficVariability
from ranopt.twin.ues import PROFILE_KINDS, UEs
from ranopt.twin.units import FloatArray

IntArray = npt.NDArray[np.int64]

# Relative demand per hour of day (00:00-01:00 first), peak 1.0, one row per PROFILE_KINDS entry.
HOURLY_PROFILE = np.array(
    [
        # residential: evening peak, trough around 05:00
        [0.50, 0.34, 0.22, 0.15, 0.11, 0.10, 0.12, 0.20, 0.32, 0.42, 0.50, 0.56,
         0.60, 0.60, 0.60, 0.62, 0.66, 0.74, 0.84, 0.93, 0.99, 1.00, 0.90, 0.70],
        # business: office hours
        [0.20, 0.13, 0.09, 0.07, 0.06, 0.07, 0.12, 0.30, 0.62, 0.88, 0.97, 1.00,
         0.96, 0.98, 0.97, 0.92, 0.84, 0.70, 0.52, 0.42, 0.38, 0.35, 0.30, 0.25],
    ]
)  # fmt: skip
# Relative demand per day of week (Monday first), one row per PROFILE_KINDS entry.
WEEKDAY_FACTOR = np.array(
    [
        [1.00, 1.00, 1.00, 1.00, 1.02, 1.06, 1.05],
        [1.00, 1.00, 1.00, 1.00, 0.95, 0.45, 0.40],
    ]
)


def diurnal_profile(intervals_per_day: int) -> FloatArray:
    """Return the relative demand per interval, ``[num_kinds, intervals_per_day]``.

    The hourly values are placed at mid-hour and interpolated periodically.
    """
    t_h = (np.arange(intervals_per_day) + 0.5) * 24.0 / intervals_per_day
    hours = np.arange(24) + 0.5
    return np.stack(
        [np.interp(t_h, hours, row, period=24.0) for row in HOURLY_PROFILE[: len(PROFILE_KINDS)]]
    )


@dataclass(frozen=True, eq=False)
class TrafficModel:
    """What drives each UE's demand, arrays of shape ``[num_ues]``."""

    busy_hour_demand_mbps: FloatArray  # mean DL demand at the peak of the UE's own profile
    profile_kind: IntArray  # index into ues.PROFILE_KINDS
    home_site: IntArray  # traffic area of the UE
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
    """Give every UE a mean busy-hour demand so that a site area offers the scenario's peak.

    Demand is log-normal across UEs and across site areas (spatial density) and weighted by
    slice (eMBB > URLLC > mMTC); the total at
    the profiles' peaks equals ``busy_hour_demand_mbps_per_site * num_sites``.
    """
    weight = _lognormal_mean_one(rng, scenario.ue_demand_sigma, ues.num_ues)
    area_density = _lognormal_mean_one(rng, scenario.area_density_sigma, scenario.num_sites)
    weight = weight * area_density[ues.home_site]
    weight = weight * np.asarray(scenario.slice_demand_weight)[ues.slice_idx]
    total_mbps = scenario.busy_hour_demand_mbps_per_site * scenario.num_sites
    return TrafficModel(
        busy_hour_demand_mbps=weight * (total_mbps / weight.sum()),
        profile_kind=ues.profile_kind,
        home_site=ues.home_site,
        num_sites=scenario.num_sites,
        intervals_per_day=scenario.intervals_per_day,
        variability=scenario.variability,
    )


def expected_demand_mbps(traffic: TrafficModel, day: int) -> FloatArray:
    """Return the seasonal mean demand of each UE in each interval of a day, ``[T, num_ues]``."""
    profile = diurnal_profile(traffic.intervals_per_day)  # [kinds, T]
    weekday = WEEKDAY_FACTOR[:, day % 7]  # [kinds]
    # [T, U]
    shape = (profile * weekday[:, None])[traffic.profile_kind].T
    return np.asarray(shape * traffic.busy_hour_demand_mbps[None, :], dtype=np.float64)


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
