"""The bounded top-K link budget keeps exactly the cells of the exhaustive search (issue 16)."""

from dataclasses import replace

import numpy as np
import pytest

from ranopt.twin import build_twin, scenario_preset
from ranopt.twin.antenna import element_gain_dbi, element_gain_upper_bound_dbi
from ranopt.twin.layout import hex_site_positions_m, hex_wrap_shifts_m
from ranopt.twin.model import Twin
from ranopt.twin.pathloss import (
    los_probability,
    los_probability_upper_bound,
    pathloss_db,
    pathloss_lower_bound_db,
)
from ranopt.twin.radio import _near_pairs, nearest_image_offsets_m, site_images, top_k_mask
from ranopt.twin.scenario import Scenario
from ranopt.twin.shapes import Perturbation, perturbed_records, synthetic_records
from ranopt.twin.topology import build_topology_twin, topology_layout, topology_scenario


def _assert_same_budget(pruned: Twin, exhaustive: Twin) -> None:
    a, b = pruned.link, exhaustive.link
    np.testing.assert_array_equal(a.cell_idx, b.cell_idx)
    for field in ("rsrp_dbm", "signal_w", "interference_w", "rank_db", "supported"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


@pytest.mark.parametrize(
    "scenario",
    [
        replace(scenario_preset("default", seed=2), top_k=24),
        replace(scenario_preset("hotspot", seed=1, num_ues=1500), top_k=24),
        replace(scenario_preset("medium", seed=0, num_ues=2500), top_k=24),
        replace(scenario_preset("medium", seed=4, num_ues=1500), top_k=7),
        scenario_preset("default", seed=0, environment="UMi", top_k=24),
    ],
    ids=["default", "hotspot", "medium", "medium-k7", "umi"],
)
def test_pruned_top_k_equals_exhaustive_on_presets(scenario: Scenario) -> None:
    _assert_same_budget(build_twin(scenario), build_twin(scenario, prune=False))


def test_pruned_top_k_equals_exhaustive_on_a_perturbed_layout() -> None:
    """Moved and removed sites, turned sectors, changed tilts and per-site heights."""
    base = scenario_preset("medium", seed=0)
    shape = Perturbation(
        position_sigma_m=120.0, removed_sites=9, azimuth_sigma_deg=25.0, tilt_sigma_deg=2.0,
        height_range_m=(15.0, 40.0),
    )  # fmt: skip
    sites, cells = perturbed_records(base, shape, np.random.default_rng(7))
    layout = topology_layout(sites, cells)
    scenario = topology_scenario(layout, name="perturbed", seed=3, num_ues=2500)
    assert scenario.top_k is not None
    assert scenario.top_k < len(layout.cells)
    _assert_same_budget(
        build_topology_twin(layout, scenario), build_topology_twin(layout, scenario, prune=False)
    )


@pytest.mark.parametrize(
    ("num_cells", "missing_share", "seed", "overrides"),
    [(600, 0.05, 5, {}), (900, 0.3, 6, {"top_k": 12}), (480, 0.1, 8, {"environment": "UMi"})],
    ids=["synthetic", "synthetic-holes-k12", "synthetic-umi"],
)
def test_pruned_top_k_equals_exhaustive_on_synthetic_layouts(
    num_cells: int, missing_share: float, seed: int, overrides: dict[str, object]
) -> None:
    """Irregular layouts (``shapes.synthetic_records``): holes, moved sites, mixed heights."""
    sites, cells = synthetic_records(
        num_cells, np.random.default_rng(seed), missing_share=missing_share
    )
    layout = topology_layout(sites, cells)
    scenario = topology_scenario(layout, name="synthetic", seed=seed, num_ues=1200, **overrides)
    assert scenario.top_k is not None
    assert scenario.top_k < len(layout.cells)
    _assert_same_budget(
        build_topology_twin(layout, scenario), build_topology_twin(layout, scenario, prune=False)
    )


def test_near_pairs_far_bound_holds_for_every_other_site() -> None:
    """Each site left out of a UE's near pairs is at least the far bound away (wrap-around)."""
    sites = hex_site_positions_m(61, 500.0)
    shifts = hex_wrap_shifts_m(61, 500.0)
    rng = np.random.default_rng(11)
    x, y = rng.uniform(-2500.0, 2500.0, (2, 2000))
    dx, dy = nearest_image_offsets_m(x, y, sites, shifts)
    distance = np.hypot(dx, dy)
    images = site_images(sites, shifts)
    for near in (7, 19, 61):
        ue, site, far_m = _near_pairs(images, np.column_stack((x, y)), near)
        is_near = np.zeros(distance.shape, dtype=bool)
        is_near[ue, site] = True
        assert ue.size == np.count_nonzero(is_near)  # one copy per site, the nearest
        capped = far_m >= images.radius_cap_m * (1.0 - 1e-8)
        assert ((is_near.sum(axis=1) == near) | capped).all()
        far_bound = np.broadcast_to(far_m[:, None], distance.shape)
        assert (distance[~is_near] >= far_bound[~is_near]).all()
        assert (distance[is_near] <= far_bound[is_near] * (1.0 + 1e-8)).all()
    assert capped.any()  # all 61 sites asked for: the half-shift cap leaves the far ones out


def test_los_probability_upper_bound_holds_beyond_its_distance() -> None:
    rng = np.random.default_rng(4)
    d_min = rng.uniform(0.0, 3000.0, 5000)
    h_ut = rng.uniform(1.5, 22.5, 5000)
    farther = d_min[:, None] + np.linspace(0.0, 2000.0, 401)[None, :]
    for env in ("UMa", "UMi"):
        bound = los_probability_upper_bound(env, d_min, h_ut)
        assert (los_probability(env, farther, h_ut[:, None]) <= bound[:, None] + 1e-15).all()
    # TR 38.901 Table 7.4.2-1 UMa, h_UT = 1.5 m, d = 1 km: 18/1000 + exp(-1000/63)(1 - 18/1000)
    assert los_probability_upper_bound("UMa", 1000.0, 1.5) == pytest.approx(0.0180001, abs=1e-7)
    # h_UT = 23 m (C' = 1): the factor's peak at 450 m bounds it at 300 m
    peak = 1.0 + 1.25 * 4.5**3 * np.exp(-3.0)
    expected = (18.0 / 300.0 + np.exp(-300.0 / 63.0) * (1.0 - 18.0 / 300.0)) * peak
    assert los_probability_upper_bound("UMa", 300.0, 23.0) == pytest.approx(expected)


def test_pathloss_lower_bound_is_below_the_pathloss() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    d2d = rng.uniform(0.0, 8000.0, n)
    h_bs = rng.uniform(10.0, 45.0, n)
    h_ut = rng.uniform(1.5, 22.5, n)
    fc = rng.uniform(0.7, 6.0, n)
    los = rng.random(n) < 0.5
    for env in ("UMa", "UMi"):
        exact = pathloss_db(env, los, d2d, h_bs, h_ut, fc)
        assert (pathloss_lower_bound_db(env, los, d2d, h_ut, fc) <= exact + 1e-9).all()
        # a lower carrier lowers the bound further
        assert (pathloss_lower_bound_db(env, los, d2d, h_ut, fc * 0.5) <= exact).all()


def test_pathloss_lower_bound_worked_value() -> None:
    # TR 38.901 Table 7.4.1-1 UMa LOS PL1 at d = 100 m, 3.5 GHz: 28 + 22 x 2 + 20 log10(3.5)
    assert pathloss_lower_bound_db("UMa", True, 100.0, 1.5, 3.5) == pytest.approx(82.881, abs=1e-3)
    # the exact PL1 at h_BS = 25 m: d_3D = sqrt(100^2 + 23.5^2) = 102.72 m, 83.138 dB
    assert pathloss_db("UMa", True, 100.0, 25.0, 1.5, 3.5) == pytest.approx(83.138, abs=1e-3)


def test_element_gain_upper_bound_holds_for_every_zenith() -> None:
    phi = np.linspace(-180.0, 180.0, 721)[:, None]
    theta = np.linspace(0.0, 180.0, 361)[None, :]
    bound = element_gain_upper_bound_dbi(phi)
    assert (element_gain_dbi(phi, theta) <= bound).all()
    # tight on the horizon (no vertical attenuation there)
    np.testing.assert_allclose(element_gain_dbi(phi, 90.0), bound)


def test_top_k_mask_keeps_the_lower_index_among_ties() -> None:
    values = np.array([[1.0, 5.0, 3.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0, 9.0, 1.0]])
    mask = top_k_mask(values, 3)
    np.testing.assert_array_equal(
        mask, [[False, True, True, True, False, False], [True, True, False, False, True, False]]
    )
    assert (mask.sum(axis=1) == 3).all()


def test_nearest_image_offsets_match_a_full_comparison_of_copies() -> None:
    sites = hex_site_positions_m(37, 500.0)
    shifts = hex_wrap_shifts_m(37, 500.0)
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-3500.0, 3500.0, (2, 3000))
    dx, dy = nearest_image_offsets_m(x, y, sites, shifts)
    fx = x[:, None, None] - sites[None, :, 0, None] - shifts[None, None, :, 0]
    fy = y[:, None, None] - sites[None, :, 1, None] - shifts[None, None, :, 1]
    nearest = np.argmin(fx * fx + fy * fy, axis=2)[..., None]
    np.testing.assert_array_equal(dx, np.take_along_axis(fx, nearest, axis=2)[..., 0])
    np.testing.assert_array_equal(dy, np.take_along_axis(fy, nearest, axis=2)[..., 0])
