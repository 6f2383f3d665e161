"""UE drop: where the users are, indoors or out, at which height, on which slice."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ranopt.twin.layout import inside_site_hexagon
from ranopt.twin.mobility import COMMUTER_HOME, COMMUTER_WORK, PROFILE_KINDS, RESIDENT
from ranopt.twin.scenario import Scenario
from ranopt.twin.units import FloatArray

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

O2I_MAX_INDOOR_DISTANCE_M = 25.0  # TR 38.901 Table 7.4.3-2: d_2D-in = min of two U(0, 25 m)
OUTDOOR_UE_HEIGHT_M = 1.5  # TR 38.901 Table 7.4.1-1 note: outdoor h_UT = 1.5 m
__all__ = ["PROFILE_KINDS", "UEs", "drop_ues"]


@dataclass(frozen=True, eq=False)
class UEs:
    """A UE drop, arrays of shape ``[num_ues]``: one slot per place a user spends time at.

    A resident has one slot (home); a commuter two, home and work (``ranopt.twin.mobility``).
    Home slots come first, in user order, so slot ``u < num_users`` is user ``u`` at home.
    """

    x_m: FloatArray
    y_m: FloatArray
    height_m: FloatArray
    indoor: BoolArray
    d2d_in_m: FloatArray  # indoor distance for the O2I loss (0 outdoors)
    slice_idx: IntArray  # index into elements.SLICES
    profile_kind: IntArray  # index into mobility.PROFILE_KINDS: the slot's presence over the day
    home_site: IntArray  # site whose hexagon holds the slot (its traffic area)
    hotspot: IntArray  # hotspot index, -1 for uniformly dropped slots
    high_loss: BoolArray  # indoors in a high-loss building (TR 38.901 Table 7.4.3-2)
    supports_n78: BoolArray  # the user's device can use the 3.5 GHz n78 layer
    user: IntArray  # the user (person) of each slot

    @property
    def num_ues(self) -> int:
        """Number of UE slots (places users are at)."""
        return int(self.x_m.shape[0])

    @property
    def num_users(self) -> int:
        """Number of users."""
        return int(self.user.max()) + 1 if self.user.size else 0


NEAREST_CHUNK = 4096  # points per [chunk, num_sites] distance table (stays in cache)


def _nearest_site(x_m: FloatArray, y_m: FloatArray, site_xy_m: FloatArray) -> IntArray:
    """Index of each point's nearest site, ``[num_points]`` (ties: the lower index)."""
    nearest = np.empty(x_m.shape[0], dtype=np.int64)
    sx, sy = site_xy_m[None, :, 0], site_xy_m[None, :, 1]
    for start in range(0, x_m.shape[0], NEAREST_CHUNK):
        part = slice(start, start + NEAREST_CHUNK)
        d2 = (x_m[part, None] - sx) ** 2 + (y_m[part, None] - sy) ** 2
        nearest[part] = np.argmin(d2, axis=1)
    return nearest


def _in_area(
    x_m: FloatArray, y_m: FloatArray, site_xy_m: FloatArray, scenario: Scenario
) -> BoolArray:
    """Inside the union of site hexagons and outside every site's minimum distance.

    A topology layout has no lattice: its area is the union of discs of the hexagon's
    circumradius ``isd_m / sqrt(3)`` around the sites.
    """
    home = _nearest_site(x_m, y_m, site_xy_m)
    dx = x_m - site_xy_m[home, 0]
    dy = y_m - site_xy_m[home, 1]
    distance_m = np.hypot(dx, dy)
    far_enough = distance_m >= scenario.min_distance_m
    if scenario.layout == "topology":
        return np.asarray((distance_m <= scenario.isd_m / np.sqrt(3.0)) & far_enough, dtype=bool)
    return np.asarray(inside_site_hexagon(dx, dy, scenario.isd_m) & far_enough, dtype=bool)


Proposal = Callable[[int], tuple[FloatArray, FloatArray, IntArray]]


def _sample_in_area(
    num: int, propose: Proposal, oversample: float, site_xy_m: FloatArray, scenario: Scenario
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Rejection-sample ``num`` proposed points (x, y, label) that fall inside the network area."""
    xs: list[FloatArray] = [np.zeros(0)]  # an empty start: ``num`` may be 0 (no hotspots)
    ys: list[FloatArray] = [np.zeros(0)]
    labels: list[IntArray] = [np.zeros(0, dtype=np.int64)]
    remaining = num
    while remaining > 0:
        x, y, label = propose(int(remaining * oversample) + 8)
        keep = _in_area(x, y, site_xy_m, scenario)
        xs.append(x[keep][:remaining])
        ys.append(y[keep][:remaining])
        labels.append(label[keep][:remaining].astype(np.int64))
        remaining -= int(min(keep.sum(), remaining))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(labels)


def _uniform_points(
    num: int, site_xy_m: FloatArray, scenario: Scenario, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Points uniform over the network area (each hexagon has equal area).

    In a topology layout the areas differ: points are proposed uniformly over the bounding
    box of the sites' discs, so that the accepted ones are uniform over their union.
    """
    radius_m = scenario.isd_m / np.sqrt(3.0)
    if scenario.layout == "topology":
        return _uniform_points_in_box(num, site_xy_m, scenario, rng)

    def propose(batch: int) -> tuple[FloatArray, FloatArray, IntArray]:
        site = rng.integers(0, site_xy_m.shape[0], size=batch)
        x = site_xy_m[site, 0] + rng.uniform(-radius_m, radius_m, size=batch)
        y = site_xy_m[site, 1] + rng.uniform(-radius_m, radius_m, size=batch)
        return x, y, site

    x, y, _ = _sample_in_area(num, propose, 1.4, site_xy_m, scenario)
    return x, y


def _uniform_points_in_box(
    num: int, site_xy_m: FloatArray, scenario: Scenario, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Points uniform over the union of the sites' discs, proposed over their bounding box."""
    radius_m = scenario.isd_m / np.sqrt(3.0)
    low = site_xy_m.min(axis=0) - radius_m
    high = site_xy_m.max(axis=0) + radius_m
    disc_share = np.pi * radius_m**2 * site_xy_m.shape[0] / float(np.prod(high - low))

    def propose(batch: int) -> tuple[FloatArray, FloatArray, IntArray]:
        x = rng.uniform(low[0], high[0], size=batch)
        y = rng.uniform(low[1], high[1], size=batch)
        return x, y, np.zeros(batch, dtype=np.int64)

    # about the discs' share of the box is accepted (less where discs overlap)
    oversample = 1.3 / max(min(disc_share, 1.0), 0.05)
    x, y, _ = _sample_in_area(num, propose, oversample, site_xy_m, scenario)
    return x, y


def _hotspot_points(
    num: int,
    centres_m: FloatArray,
    site_xy_m: FloatArray,
    scenario: Scenario,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Points in Gaussian clusters around hotspot centres, kept inside the network area."""

    def propose(batch: int) -> tuple[FloatArray, FloatArray, IntArray]:
        spot = rng.integers(0, centres_m.shape[0], size=batch)
        x = centres_m[spot, 0] + rng.normal(0.0, scenario.hotspot_std_m, size=batch)
        y = centres_m[spot, 1] + rng.normal(0.0, scenario.hotspot_std_m, size=batch)
        return x, y, spot

    return _sample_in_area(num, propose, 1.3, site_xy_m, scenario)


def _indoor_heights_m(num: int, rng: np.random.Generator) -> FloatArray:
    # TR 38.901 Table 7.4.1-1 note 6: h_UT = 3(n_fl - 1) + 1.5, N_fl ~ U{4..8}, n_fl ~ U{1..N_fl}
    num_floors = rng.integers(4, 9, size=num)
    floor = rng.integers(1, num_floors + 1)
    return np.asarray(3.0 * (floor - 1) + 1.5, dtype=np.float64)


def _work_points(
    num: int,
    site_xy_m: FloatArray,
    site_is_business: BoolArray,
    business_spots_m: FloatArray,
    scenario: Scenario,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Workplaces: uniform in a business site area, or in a business hotspot's cluster.

    A share ``hotspot_ue_fraction`` of workplaces lies in business hotspots (where there are
    any); without business areas, workplaces are uniform over the network.
    """
    business_sites = site_xy_m[site_is_business]
    if business_sites.shape[0] == 0:
        x, y = _uniform_points(num, site_xy_m, scenario, rng)
        return x, y, np.full(num, -1, dtype=np.int64)
    in_spot = (
        rng.random(num) < scenario.hotspot_ue_fraction
        if business_spots_m.shape[0]
        else np.zeros(num, dtype=bool)
    )
    num_spot = int(in_spot.sum())
    ux, uy = _uniform_points(num - num_spot, business_sites, scenario, rng)
    x = np.empty(num)
    y = np.empty(num)
    spot = np.full(num, -1, dtype=np.int64)
    x[~in_spot], y[~in_spot] = ux, uy
    if num_spot:
        hx, hy, which = _hotspot_points(num_spot, business_spots_m, site_xy_m, scenario, rng)
        x[in_spot], y[in_spot], spot[in_spot] = hx, hy, which
    return x, y, spot


def _place_draws(
    num: int, scenario: Scenario, rng: np.random.Generator
) -> tuple[BoolArray, FloatArray, FloatArray, BoolArray]:
    """Indoor flag, height, indoor distance and building type of ``num`` places."""
    indoor = rng.random(num) < scenario.indoor_fraction
    height_m = np.where(indoor, _indoor_heights_m(num, rng), OUTDOOR_UE_HEIGHT_M)
    # TR 38.901 Table 7.4.3-2: d_2D-in = min(U(0, 25), U(0, 25)) for UMa and UMi
    d2d_in_m = np.minimum(
        rng.uniform(0.0, O2I_MAX_INDOOR_DISTANCE_M, num),
        rng.uniform(0.0, O2I_MAX_INDOOR_DISTANCE_M, num),
    )
    d2d_in_m = np.where(indoor, d2d_in_m, 0.0)
    # TR 38.901 Table 7.8-1: a share of indoor UEs sits in high-loss buildings
    high_loss = indoor & (rng.random(num) < scenario.o2i_high_loss_fraction)
    return indoor, height_m, d2d_in_m, high_loss


def drop_ues(scenario: Scenario, site_xy_m: FloatArray, rng: np.random.Generator) -> UEs:
    """Drop the scenario's users at home (uniform plus hotspots) and commuters at work too.

    ``site_xy_m`` has shape ``[num_sites, 2]``. Each place gets TR 38.901's indoor share,
    heights, indoor distance and building type; each user a slice and n78 support.
    """
    num_users = scenario.num_ues
    num_hotspot_ues = round(num_users * scenario.hotspot_ue_fraction)
    num_uniform = num_users - num_hotspot_ues
    num_hotspots = scenario.num_hotspots or max(1, scenario.num_sites // 3)

    ux, uy = _uniform_points(num_uniform, site_xy_m, scenario, rng)
    centre_x, centre_y = _uniform_points(num_hotspots, site_xy_m, scenario, rng)
    centres_m = np.column_stack((centre_x, centre_y))
    hx, hy, spot = _hotspot_points(num_hotspot_ues, centres_m, site_xy_m, scenario, rng)
    home_x = np.concatenate((ux, hx))
    home_y = np.concatenate((uy, hy))
    home_spot = np.concatenate((np.full(num_uniform, -1, dtype=np.int64), spot))
    slice_idx = rng.choice(len(scenario.slice_mix), size=num_users, p=scenario.slice_mix)
    supports_n78 = rng.random(num_users) >= scenario.ue_without_n78_fraction

    # each site area and each hotspot is residential or business; commuters work in business
    # ones (mobility.AT_WORK_HOURLY gives when)
    site_is_business: BoolArray = np.less(
        rng.random(site_xy_m.shape[0]), scenario.business_area_fraction
    )
    spot_is_business: BoolArray = np.less(rng.random(num_hotspots), 0.5)
    commuter = rng.random(num_users) < scenario.commuter_fraction
    commuters = np.flatnonzero(commuter)
    wx, wy, wspot_local = _work_points(
        commuters.size, site_xy_m, site_is_business, centres_m[spot_is_business], scenario, rng
    )
    business_spots = np.append(np.flatnonzero(spot_is_business), -1)  # -1: none
    work_spot = np.where(wspot_local >= 0, business_spots[wspot_local], -1)

    x_m = np.concatenate((home_x, wx))
    y_m = np.concatenate((home_y, wy))
    user = np.concatenate((np.arange(num_users), commuters)).astype(np.int64)
    kind = np.concatenate(
        (np.where(commuter, COMMUTER_HOME, RESIDENT), np.full(commuters.size, COMMUTER_WORK))
    )
    indoor, height_m, d2d_in_m, high_loss = _place_draws(x_m.size, scenario, rng)
    return UEs(
        x_m=x_m,
        y_m=y_m,
        height_m=height_m,
        indoor=indoor,
        d2d_in_m=d2d_in_m,
        slice_idx=slice_idx.astype(np.int64)[user],
        profile_kind=kind.astype(np.int64),
        home_site=_nearest_site(x_m, y_m, site_xy_m),
        hotspot=np.concatenate((home_spot, work_spot)).astype(np.int64),
        high_loss=high_loss,
        supports_n78=supports_n78[user],
        user=user,
    )
