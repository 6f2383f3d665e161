"""The element schema: TS 38.101-1 PRB counts and cell validation."""

import dataclasses

import pytest

from ranopt.errors import ValidationError
from ranopt.twin.elements import Cell, num_prb_for
from ranopt.twin.power import EARTH_MACRO_CELL


@pytest.mark.parametrize(
    ("scs_khz", "bandwidth_mhz", "num_prb"),
    [
        # TS 38.101-1 Table 5.3.2-1 (FR1)
        (15, 5, 25),
        (15, 10, 52),
        (15, 20, 106),
        (15, 50, 270),
        (30, 10, 24),
        (30, 40, 106),
        (30, 100, 273),
    ],
)
def test_num_prb_table(scs_khz: int, bandwidth_mhz: float, num_prb: int) -> None:
    assert num_prb_for(scs_khz, bandwidth_mhz) == num_prb


@pytest.mark.parametrize(("scs_khz", "bandwidth_mhz"), [(15, 100), (60, 20), (30, 120), (15, 7)])
def test_num_prb_unknown_combination_raises(scs_khz: int, bandwidth_mhz: float) -> None:
    with pytest.raises(ValidationError, match="scs_khz"):
        num_prb_for(scs_khz, bandwidth_mhz)


def test_num_prb_non_standard_bandwidth_raises() -> None:
    # 19.6 MHz is no TS 38.101-1 channel bandwidth: it must not borrow the 20 MHz N_RB
    with pytest.raises(ValidationError, match=r"bandwidth_mhz=19\.6"):
        num_prb_for(15, 19.6)


@pytest.mark.parametrize(
    ("scs_khz", "bandwidth_mhz", "num_prb"), [(15, 35, 188), (30, 15, 38), (30, 90, 245)]
)
def test_num_prb_more_table_entries(scs_khz: int, bandwidth_mhz: int, num_prb: int) -> None:
    # TS 38.101-1 Table 5.3.2-1
    assert num_prb_for(scs_khz, bandwidth_mhz) == num_prb


def _cell(**overrides: object) -> Cell:
    params: dict[str, object] = {
        "name": "S000-1-cov",
        "site": 0,
        "sector": 0,
        "layer": "coverage",
        "azimuth_deg": 30.0,
        "carrier_ghz": 1.8,
        "bandwidth_mhz": 20.0,
        "scs_khz": 15,
        "duplex": "FDD",
        "dl_duty": 1.0,
        "mech_tilt_deg": 4.0,
        "elec_tilt_deg": 8.0,
        "array_gain_db": 9.03,
        "interference_array_gain_db": 9.03,
        "power": EARTH_MACRO_CELL,
    }
    params.update(overrides)
    return Cell(**params)  # type: ignore[arg-type]


def test_cell_derives_prb_and_bandwidth() -> None:
    cell = _cell()
    assert cell.num_prb == 106
    assert cell.occupied_bandwidth_hz == 106 * 12 * 15e3
    assert cell.total_tilt_deg == 12.0


@pytest.mark.parametrize(
    ("field", "value"),
    [("layer", "umbrella"), ("dl_duty", 0.0), ("dl_duty", 1.5), ("carrier_ghz", 0.0)],
)
def test_cell_rejects_out_of_domain(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        _cell(**{field: value})


def test_cell_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        _cell().azimuth_deg = 0.0  # type: ignore[misc]
