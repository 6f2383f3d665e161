"""Hexagonal layout (TR 38.901 clause 7.2) and the network built on it."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from ranopt.errors import ValidationError
from ranopt.twin import scenario_preset
from ranopt.twin.layout import (
    SECTOR_AZIMUTHS_DEG,
    hex_site_count,
    hex_site_positions_m,
    hex_wrap_shifts_m,
    rings_for_site_count,
)
from ranopt.twin.network import build_network, cell_arrays
from ranopt.twin.radio import nearest_image_offsets_m

ISD_M = 500.0


@pytest.mark.parametrize(("rings", "num_sites"), [(0, 1), (1, 7), (2, 19), (3, 37), (4, 61)])
def test_site_counts(rings: int, num_sites: int) -> None:
    assert hex_site_count(rings) == num_sites
    assert rings_for_site_count(num_sites) == rings
    assert hex_site_positions_m(num_sites, ISD_M).shape == (num_sites, 2)


@pytest.mark.parametrize("num_sites", [0, 2, 8, 18, 20, 60])
def test_non_hexagonal_count_raises(num_sites: int) -> None:
    with pytest.raises(ValidationError, match=str(num_sites)):
        hex_site_positions_m(num_sites, ISD_M)


def test_scenario_rejects_eight_sites() -> None:
    with pytest.raises(ValidationError, match="8"):
        scenario_preset("default", num_sites=8)


@pytest.mark.parametrize("num_sites", [7, 19, 37, 61])
def test_neighbour_spacing_equals_isd(num_sites: int) -> None:
    xy = hex_site_positions_m(num_sites, ISD_M)
    dist = squareform(pdist(xy))
    np.fill_diagonal(dist, np.inf)
    # every site's nearest neighbour is one ISD away and no two sites are closer
    np.testing.assert_allclose(dist.min(axis=1), ISD_M, rtol=1e-12)
    # the centre has six neighbours at ISD
    assert np.sum(np.isclose(dist[0], ISD_M)) == 6


@pytest.mark.parametrize("num_sites", [1, 7, 19, 61])
def test_centre_first_then_rings(num_sites: int) -> None:
    xy = hex_site_positions_m(num_sites, ISD_M)
    np.testing.assert_array_equal(xy[0], [0.0, 0.0])
    radius = np.hypot(xy[:, 0], xy[:, 1])
    # ring index of a lattice point is its hexagonal distance; ring r spans [r sqrt(3)/2, r] ISD
    ring_sizes = [1] + [6 * r for r in range(1, rings_for_site_count(num_sites) + 1)]
    start = 0
    for ring, size in enumerate(ring_sizes):
        block = radius[start : start + size]
        assert np.all(block <= ring * ISD_M + 1e-9)
        assert np.all(block >= ring * ISD_M * np.sqrt(3.0) / 2.0 - 1e-9)
        start += size


def test_network_cells_per_site_and_order() -> None:
    scenario = scenario_preset("default", num_sites=7, num_ues=10)
    sites, cells = build_network(scenario)
    arrays = cell_arrays(sites, cells)
    assert len(sites) == 7
    assert len(cells) == scenario.num_cells == 42
    np.testing.assert_array_equal(arrays.site, np.repeat(np.arange(7), 6))
    # per site: coverage sectors then capacity sectors
    np.testing.assert_array_equal(arrays.layer[:6], [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(arrays.azimuth_deg[:3], SECTOR_AZIMUTHS_DEG)
    # one carrier index per frequency: co-channel cells share it
    assert set(arrays.carrier[arrays.layer == 0]) != set(arrays.carrier[arrays.layer == 1])
    assert len({c.name for c in cells}) == len(cells)


# --- wrap-around -----------------------------------------------------------------------------


@pytest.mark.parametrize("num_sites", [7, 19, 61])
def test_wrap_shifts_are_rotations_of_the_cluster_vector(num_sites: int) -> None:
    """ITU-R M.2412 wrap-around: 6 copies at sqrt(N) ISD, 60 degrees apart, plus the identity.

    Worked value, 7 sites (R = 1): axial (3, -1) is (2.5, -sqrt(3)/2) ISD, length sqrt(7) ISD.
    """
    shifts = hex_wrap_shifts_m(num_sites, ISD_M)
    assert shifts.shape == (7, 2)
    np.testing.assert_array_equal(shifts[0], [0.0, 0.0])
    np.testing.assert_allclose(np.hypot(*shifts[1:].T), np.sqrt(num_sites) * ISD_M, rtol=1e-12)
    angles = np.degrees(np.arctan2(shifts[1:, 1], shifts[1:, 0]))
    np.testing.assert_allclose(np.diff(np.unwrap(np.radians(angles))), np.radians(60.0), rtol=1e-9)
    if num_sites == 7:
        np.testing.assert_allclose(shifts[1], [2.5 * ISD_M, -np.sqrt(3.0) / 2.0 * ISD_M])


@pytest.mark.parametrize("num_sites", [7, 19, 37])
def test_with_wrap_around_every_site_sees_the_same_neighbourhood(num_sites: int) -> None:
    """The wrapped network is a torus: every site's sorted distances to the others are equal.

    Without wrap-around a corner site has 3 neighbours at one ISD, the centre 6.
    """
    positions = hex_site_positions_m(num_sites, ISD_M)
    shifts = hex_wrap_shifts_m(num_sites, ISD_M)
    # independent loop: nearest copy of site j seen from site i
    rows = []
    for i in range(num_sites):
        row = sorted(
            min(float(np.hypot(*(positions[i] - positions[j] - s))) for s in shifts)
            for j in range(num_sites)
            if j != i
        )
        rows.append(row)
    np.testing.assert_allclose(
        np.array(rows), np.array(rows[0])[None, :].repeat(num_sites, 0), atol=1e-6
    )
    assert sum(abs(d - ISD_M) < 1e-6 for d in rows[0]) == 6
    unwrapped = squareform(pdist(positions))
    assert (np.abs(unwrapped - ISD_M) < 1e-6).sum(axis=1).min() == 3


def test_nearest_image_offsets_match_a_loop() -> None:
    rng = np.random.default_rng(5)
    positions = hex_site_positions_m(19, ISD_M)
    shifts = hex_wrap_shifts_m(19, ISD_M)
    x = rng.uniform(-1200, 1200, 50)
    y = rng.uniform(-1200, 1200, 50)
    dx, dy = nearest_image_offsets_m(x, y, positions, shifts)
    for u in range(50):
        for s in range(19):
            options = [
                (x[u] - positions[s, 0] - w[0], y[u] - positions[s, 1] - w[1]) for w in shifts
            ]
            best = min(options, key=lambda o: o[0] ** 2 + o[1] ** 2)
            assert (dx[u, s], dy[u, s]) == pytest.approx(best, abs=1e-9)
