"""Base-station power: EARTH (Auer et al. 2011) and the TR 38.864 capacity-cell model."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranopt.errors import ValidationError
from ranopt.twin.elements import PowerModel
from ranopt.twin.power import (
    DEEP_SLEEP,
    EARTH_MACRO_CELL,
    LIGHT_SLEEP,
    MMIMO_64T64R_CELL,
    SLEEP_STATES,
    URBAN_MACRO_SITE,
    WAKING,
    CellPowerArrays,
    SitePowerModel,
    cell_power_w,
    deep_sleep_break_even_intervals,
    input_power_w,
    model_power_w,
    site_power_budget,
    spatial_scale,
    tr38864_power_model,
)

# Auer et al. 2011, "How much energy is needed to run a wireless network?", Table 2, macro BS
EARTH_N_TRX = 6
EARTH_P_MAX_W = 20.0
EARTH_P0_W = 130.0
EARTH_DELTA_P = 4.7
EARTH_P_SLEEP_W = 75.0


def _earth_macro_bs_w(prb_load: float, active: bool) -> float:
    return float(
        input_power_w(
            EARTH_N_TRX,
            EARTH_P0_W,
            EARTH_DELTA_P,
            EARTH_P_MAX_W,
            EARTH_P_SLEEP_W,
            prb_load,
            active,
        )
    )


def test_earth_macro_bs_full_load() -> None:
    # 6 (130 + 4.7 * 20) = 1344 W
    assert _earth_macro_bs_w(1.0, active=True) == pytest.approx(1344.0, rel=1e-12)


def test_earth_macro_bs_zero_load() -> None:
    # 6 * 130 = 780 W
    assert _earth_macro_bs_w(0.0, active=True) == pytest.approx(780.0, rel=1e-12)


def test_earth_macro_bs_sleep() -> None:
    # 6 * 75 = 450 W, whatever the load
    assert _earth_macro_bs_w(0.0, active=False) == pytest.approx(450.0, rel=1e-12)
    assert _earth_macro_bs_w(0.7, active=False) == pytest.approx(450.0, rel=1e-12)


def test_earth_half_load_is_linear() -> None:
    assert _earth_macro_bs_w(0.5, active=True) == pytest.approx(780.0 + 0.5 * 564.0, rel=1e-12)


def test_earth_cell_is_one_third_of_a_macro_site() -> None:
    three_sectors = 3.0 * model_power_w(EARTH_MACRO_CELL, [1.0, 0.0, 0.0], [True, True, False])
    np.testing.assert_allclose(three_sectors, [1344.0, 780.0, 450.0], rtol=1e-12)
    assert EARTH_MACRO_CELL.max_tx_power_w == 40.0


def test_load_is_clipped_to_unit_interval() -> None:
    powers = model_power_w(EARTH_MACRO_CELL, [-0.5, 0.0, 1.0, 1.7], True)
    assert powers[0] == powers[1]
    assert powers[2] == powers[3]


def _full_load_w(model: PowerModel) -> float:
    return float(model_power_w(model, 1.0, True))


def test_tr38864_relative_powers() -> None:
    model = tr38864_power_model()
    full_w = _full_load_w(model)
    # TR 38.864 Table 5.1-3, BS category 1: deep sleep 1, micro sleep 55, DL 280, A = 0.4
    assert full_w == pytest.approx(1200.0, rel=1e-12)
    assert float(model_power_w(model, 0.0, False)) / full_w == pytest.approx(1.0 / 280.0)
    assert float(model_power_w(model, 0.0, True)) / full_w == pytest.approx(
        (55.0 + 0.4 * 225.0) / 280.0
    )
    assert model.max_tx_power_w == pytest.approx(316.23, rel=1e-12)  # 55 dBm


def test_tr38864_light_sleep_and_scale() -> None:
    model = tr38864_power_model(sleep_rel=25.0, full_load_w=2800.0)
    assert _full_load_w(model) == pytest.approx(2800.0, rel=1e-12)
    assert float(model_power_w(model, 0.0, False)) == pytest.approx(250.0, rel=1e-12)


def test_default_capacity_model_is_tr38864() -> None:
    assert _full_load_w(MMIMO_64T64R_CELL) == pytest.approx(_full_load_w(tr38864_power_model()))


@pytest.mark.parametrize("field", ["num_trx", "max_tx_power_per_trx_w", "p0_w", "delta_p"], ids=str)
def test_power_model_rejects_non_positive(field: str) -> None:
    params = {
        "num_trx": 2,
        "max_tx_power_per_trx_w": 20.0,
        "p0_w": 130.0,
        "delta_p": 4.7,
        "p_sleep_w": 75.0,
    }
    params[field] = 0
    with pytest.raises(ValidationError, match=field):
        PowerModel(**params)  # type: ignore[arg-type]


def test_power_model_rejects_sleep_above_idle() -> None:
    with pytest.raises(ValidationError, match="p_sleep_w"):
        PowerModel(num_trx=2, max_tx_power_per_trx_w=20.0, p0_w=130.0, delta_p=4.7, p_sleep_w=131.0)


# --- sleep states, muting and the site ----------------------------------------------------------


def _capacity_params(overhead_w: float = 0.0) -> CellPowerArrays:
    m = MMIMO_64T64R_CELL
    return CellPowerArrays(
        num_trx=np.array([float(m.num_trx)]),
        p0_w=np.array([m.p0_w]),
        delta_p=np.array([m.delta_p]),
        max_tx_power_per_trx_w=np.array([m.max_tx_power_per_trx_w]),
        p_sleep_w=np.array([m.p_sleep_w]),
        p_light_sleep_w=np.array([m.light_sleep_w]),
        spatial_static_share=np.array([m.spatial_static_share]),
        supply_loss=np.array([m.supply_loss]),
        site_overhead_w=np.array([overhead_w]),
    )


def test_tr38864_sleep_states_at_the_mains() -> None:
    """Light sleep 25, deep sleep 1 relative units of 1200 / 280 W, behind a 9 % rectifier loss
    (Auer et al. 2011 Table 1); waking draws the zero-load power (55 + 0.4 x 225 = 145)."""
    unit_w = 1200.0 / 280.0 / (1.0 - 0.09)
    params = _capacity_params()
    asleep = np.array([False])
    light = float(cell_power_w(params, 0.0, asleep, 1.0, LIGHT_SLEEP)[0])
    deep = float(cell_power_w(params, 0.0, asleep, 1.0, DEEP_SLEEP)[0])
    waking = float(cell_power_w(params, 0.0, asleep, 1.0, WAKING)[0])
    idle = float(cell_power_w(params, 0.0, np.array([True]))[0])
    assert (light, deep, waking, idle) == pytest.approx(
        (25.0 * unit_w, 1.0 * unit_w, 145.0 * unit_w, 145.0 * unit_w), rel=1e-12
    )
    assert SLEEP_STATES == ("light", "deep", "waking")


def test_spatial_scaling_worked_values() -> None:
    """TR 38.864 cl. 5.1 form [B + (1 - B) X / Y] with B = 0.4: 32 of 64 chains 0.7, 16 0.55."""
    np.testing.assert_allclose(spatial_scale(0.4, [1.0, 0.5, 0.25]), [1.0, 0.7, 0.55])
    params = _capacity_params()
    full = float(cell_power_w(params, 0.3, np.array([True]), 1.0)[0])
    half = float(cell_power_w(params, 0.3, np.array([True]), 0.5)[0])
    assert half == pytest.approx(0.7 * full, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    load=st.floats(0.0, 1.0),
    trx=st.sampled_from([64, 32, 16]),
    fewer=st.sampled_from([32, 16, 8, 1]),
    overhead_w=st.floats(0.0, 500.0),
)
def test_a_muted_cell_never_draws_more_than_the_unmuted_one(
    load: float, trx: int, fewer: int, overhead_w: float
) -> None:
    """At equal PRB load, fewer chains in use never draw more (any static share in [0, 1])."""
    params = _capacity_params(overhead_w)
    on = np.array([True])
    more = float(cell_power_w(params, load, on, trx / 64)[0])
    less = float(cell_power_w(params, load, on, min(fewer, trx) / 64)[0])
    assert less <= more + 1e-9
    # and never less than the part that does not scale, nor than deep sleep
    assert less >= float(cell_power_w(params, 0.0, np.array([False]), 1.0, DEEP_SLEEP)[0])


def test_site_always_on_power() -> None:
    """(100 + 50 + 20) W DC behind 9 % rectifier and 10 % cooling losses: 170 / (0.91 x 0.9)."""
    assert URBAN_MACRO_SITE.always_on_w == pytest.approx(170.0 / (0.91 * 0.9), rel=1e-12)
    with pytest.raises(ValidationError, match="transport_w"):
        SitePowerModel(baseband_common_w=1.0, transport_w=-1.0, auxiliary_w=0.0)


def test_deep_sleep_pays_off_after_the_break_even_run() -> None:
    """One interval waking at 145 units vs light sleep 25, deep 1: n* = (145 - 1) / (25 - 1) = 6.

    A run of 7 intervals is cheaper deep, of 6 equal, of 5 cheaper light (checked by summing
    the interval energies in a loop)."""
    m = MMIMO_64T64R_CELL
    n_star = float(
        deep_sleep_break_even_intervals(m.num_trx, m.p0_w, m.p_sleep_w, m.light_sleep_w, 1)
    )
    assert n_star == pytest.approx(6.0, rel=1e-12)
    for run, sign in ((5, 1), (7, -1)):
        deep = sum(m.p_sleep_w if t < run - 1 else m.p0_w for t in range(run))
        light = run * m.light_sleep_w
        assert np.sign(deep - light) == sign
    # no light sleep in the model (EARTH): deep sleep never pays a wake-up for nothing
    e = EARTH_MACRO_CELL
    assert np.isinf(
        deep_sleep_break_even_intervals(e.num_trx, e.p0_w, e.p_sleep_w, e.light_sleep_w, 1)
    )


def test_site_budget_of_the_default_site() -> None:
    """The per-site table the README shows: idle, busy, muted, light and deep sleep."""
    from ranopt.twin import build_twin, scenario_preset

    twin = build_twin(scenario_preset("default", seed=0, num_sites=1, num_ues=20))
    arrays = twin.arrays
    rows = site_power_budget(arrays.power, arrays.layer == 1)
    idle, busy, muted, light, deep = rows
    # coverage: 3 EARTH sectors, 2 x 130 W idle, 2 x (130 + 4.7 x 20) W busy
    assert idle.coverage_w == pytest.approx(780.0)
    assert busy.coverage_w == pytest.approx(1344.0)
    # capacity: 3 x 145 / 280 x 1200 W idle, 3 x 1200 W busy, behind the rectifier
    assert idle.capacity_w == pytest.approx(3 * 145 / 280 * 1200 / 0.91)
    assert busy.capacity_w == pytest.approx(3 * 1200 / 0.91)
    assert muted.capacity_w == pytest.approx(0.55 * idle.capacity_w)
    assert light.capacity_w == pytest.approx(3 * 25 / 280 * 1200 / 0.91)
    assert deep.capacity_w == pytest.approx(3 * 1 / 280 * 1200 / 0.91)
    for row in rows:
        assert row.common_w == pytest.approx(URBAN_MACRO_SITE.always_on_w)
    assert idle.total_w > muted.total_w > light.total_w > deep.total_w > idle.common_w
