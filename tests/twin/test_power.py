"""Base-station power: EARTH (Auer et al. 2011) and the TR 38.864 capacity-cell model."""

import numpy as np
import pytest

from ranopt.errors import ValidationError
from ranopt.twin.elements import PowerModel
from ranopt.twin.power import (
    EARTH_MACRO_CELL,
    MMIMO_64T64R_CELL,
    input_power_w,
    model_power_w,
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
