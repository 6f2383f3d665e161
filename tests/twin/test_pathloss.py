"""TR 38.901 path loss, LOS probability and O2I loss against worked values and a scalar loop."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranopt.errors import ValidationError
from ranopt.twin.pathloss import (
    breakpoint_distance_m,
    los_probability,
    o2i_high_loss_db,
    o2i_low_loss_db,
    pathloss_db,
    shadow_fading_std_db,
)

NS3_TOLERANCE_DB = 0.05
SPEED_OF_LIGHT_M_S = 299_792_458.0

# Reference: ns-3, src/propagation/test/three-gpp-propagation-loss-model-test-suite.cc
# (nsnam/ns-3-dev-git), fc = 5 GHz, h_UT = 1.5 m, shadowing off. The suite checks received
# power with Pt = 0 dBm, i.e. -PL, in dBm. (d2D m, LOS, expected Prx dBm)
NS3_UMA_H_BS_M = 25.0
NS3_UMI_H_BS_M = 10.0
NS3_UMA = [
    (10.0, True, -72.9380),
    (100.0, True, -86.2362),
    (1000.0, True, -109.7252),
    (5000.0, True, -137.6794),
    (10.0, False, -82.5131),
    (100.0, False, -106.1356),
    (1000.0, False, -144.7641),
    (5000.0, False, -172.0753),
]
NS3_UMI = [
    (10.0, True, -69.8591),
    (100.0, True, -88.4122),
    (1000.0, True, -119.3114),
    (5000.0, True, -147.2696),
    (10.0, False, -76.7563),
    (100.0, False, -107.9432),
    (1000.0, False, -143.1886),
    (5000.0, False, -167.8617),
]


@pytest.mark.parametrize(("d2d_m", "los", "prx_dbm"), NS3_UMA)
def test_uma_pathloss_matches_ns3(d2d_m: float, los: bool, prx_dbm: float) -> None:
    pl = pathloss_db("UMa", los, d2d_m, NS3_UMA_H_BS_M, 1.5, 5.0)
    assert -float(pl) == pytest.approx(prx_dbm, abs=NS3_TOLERANCE_DB)


@pytest.mark.parametrize(("d2d_m", "los", "prx_dbm"), NS3_UMI)
def test_umi_pathloss_matches_ns3(d2d_m: float, los: bool, prx_dbm: float) -> None:
    pl = pathloss_db("UMi", los, d2d_m, NS3_UMI_H_BS_M, 1.5, 5.0)
    assert -float(pl) == pytest.approx(prx_dbm, abs=NS3_TOLERANCE_DB)


def test_pathloss_vectorised_equals_elementwise() -> None:
    d2d_m = np.array([d for d, _, _ in NS3_UMA])
    los = np.array([flag for _, flag, _ in NS3_UMA])
    vector = pathloss_db("UMa", los, d2d_m, NS3_UMA_H_BS_M, 1.5, 5.0)
    scalar = [
        float(pathloss_db("UMa", b, d, NS3_UMA_H_BS_M, 1.5, 5.0))
        for d, b in zip(d2d_m, los, strict=True)
    ]
    np.testing.assert_array_equal(vector, scalar)


def test_breakpoint_distance_uma_5ghz() -> None:
    # TR 38.901 Table 7.4.1-1 note 1: d'_BP = 4 (h_BS - 1 m)(h_UT - 1 m) f_c / c
    #   = 4 * 24 * 0.5 * 5e9 / c = 800.55 m
    expected_m = 4.0 * 24.0 * 0.5 * 5e9 / SPEED_OF_LIGHT_M_S
    assert expected_m == pytest.approx(800.55, abs=0.01)
    assert float(breakpoint_distance_m(25.0, 1.5, 5.0)) == pytest.approx(expected_m, rel=1e-12)


def test_uma_los_slope_changes_at_breakpoint() -> None:
    # PL1 has 22 dB/decade and PL2 40 dB/decade of d_3D: the local slope jumps at d'_BP
    d_bp_m = float(breakpoint_distance_m(25.0, 1.5, 5.0))
    eps_m = 1.0

    def slope(d2d_m: float) -> float:
        pl = pathloss_db("UMa", True, [d2d_m - eps_m, d2d_m + eps_m], 25.0, 1.5, 5.0)
        d3d = np.hypot([d2d_m - eps_m, d2d_m + eps_m], 23.5)
        return float((pl[1] - pl[0]) / np.log10(d3d[1] / d3d[0]))

    assert slope(d_bp_m - 50.0) == pytest.approx(22.0, abs=0.01)
    assert slope(d_bp_m + 50.0) == pytest.approx(40.0, abs=0.1)


def test_pathloss_below_min_distance_is_evaluated_at_10m() -> None:
    near = pathloss_db("UMa", False, [1.0, 5.0, 10.0], 25.0, 1.5, 3.5)
    assert near[0] == near[1] == near[2]


def test_unknown_environment_raises() -> None:
    with pytest.raises(ValidationError, match="RMa"):
        pathloss_db("RMa", True, 100.0, 25.0, 1.5, 3.5)


def _scalar_pathloss_db(
    env: str, los: bool, d2d_m: float, h_bs_m: float, h_ut_m: float, fc_ghz: float
) -> float:
    """TR 38.901 Table 7.4.1-1 written out for one link, independently of the vectorised code."""
    d2d_m = max(d2d_m, 10.0)
    d3d_m = math.sqrt(d2d_m**2 + (h_bs_m - h_ut_m) ** 2)
    d_bp_m = 4.0 * (h_bs_m - 1.0) * (h_ut_m - 1.0) * (fc_ghz * 1e9) / SPEED_OF_LIGHT_M_S
    if env == "UMa":
        if d2d_m <= d_bp_m:
            pl_los = 28.0 + 22.0 * math.log10(d3d_m) + 20.0 * math.log10(fc_ghz)
        else:
            pl_los = (
                28.0
                + 40.0 * math.log10(d3d_m)
                + 20.0 * math.log10(fc_ghz)
                - 9.0 * math.log10(d_bp_m**2 + (h_bs_m - h_ut_m) ** 2)
            )
        pl_nlos_prime = (
            13.54 + 39.08 * math.log10(d3d_m) + 20.0 * math.log10(fc_ghz) - 0.6 * (h_ut_m - 1.5)
        )
    else:
        if d2d_m <= d_bp_m:
            pl_los = 32.4 + 21.0 * math.log10(d3d_m) + 20.0 * math.log10(fc_ghz)
        else:
            pl_los = (
                32.4
                + 40.0 * math.log10(d3d_m)
                + 20.0 * math.log10(fc_ghz)
                - 9.5 * math.log10(d_bp_m**2 + (h_bs_m - h_ut_m) ** 2)
            )
        pl_nlos_prime = (
            22.4 + 35.3 * math.log10(d3d_m) + 21.3 * math.log10(fc_ghz) - 0.3 * (h_ut_m - 1.5)
        )
    return pl_los if los else max(pl_los, pl_nlos_prime)


link_inputs = st.lists(
    st.tuples(
        st.booleans(),
        st.floats(1.0, 5000.0),
        st.floats(1.5, 22.5),
        st.floats(0.5, 30.0),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(env=st.sampled_from(["UMa", "UMi"]), links=link_inputs, h_bs_m=st.floats(10.0, 35.0))
def test_pathloss_matches_scalar_loop(
    env: str, links: list[tuple[bool, float, float, float]], h_bs_m: float
) -> None:
    los, d2d_m, h_ut_m, fc_ghz = (np.array(column) for column in zip(*links, strict=True))
    vector = pathloss_db(env, los, d2d_m, h_bs_m, h_ut_m, fc_ghz)
    scalar = [_scalar_pathloss_db(env, *link[:2], h_bs_m, *link[2:]) for link in links]
    np.testing.assert_allclose(vector, scalar, rtol=0, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    env=st.sampled_from(["UMa", "UMi"]),
    d2d_m=st.floats(10.0, 5000.0),
    h_ut_m=st.floats(1.5, 22.5),
    fc_ghz=st.floats(0.5, 30.0),
)
def test_nlos_never_below_los(env: str, d2d_m: float, h_ut_m: float, fc_ghz: float) -> None:
    h_bs_m = 25.0 if env == "UMa" else 10.0
    los = pathloss_db(env, True, d2d_m, h_bs_m, h_ut_m, fc_ghz)
    nlos = pathloss_db(env, False, d2d_m, h_bs_m, h_ut_m, fc_ghz)
    assert nlos >= los


# --- LOS probability, TR 38.901 Table 7.4.2-1 -------------------------------------------------


def _umi_los_probability(d2d_m: float) -> float:
    # TR 38.901 Table 7.4.2-1, UMi-Street Canyon
    return 1.0 if d2d_m <= 18.0 else 18.0 / d2d_m + math.exp(-d2d_m / 36.0) * (1 - 18.0 / d2d_m)


@pytest.mark.parametrize("env", ["UMa", "UMi"])
@pytest.mark.parametrize("d2d_m", [0.0, 1.0, 10.0, 18.0])
@pytest.mark.parametrize("h_ut_m", [1.5, 13.0, 22.5])
def test_los_probability_is_one_within_18m(env: str, d2d_m: float, h_ut_m: float) -> None:
    assert float(los_probability(env, d2d_m, h_ut_m)) == 1.0


@pytest.mark.parametrize(
    ("d2d_m", "expected"),
    [
        # 18/d + exp(-d/36) (1 - 18/d), worked by hand
        (36.0, 0.5 + math.exp(-1.0) * 0.5),  # 0.683940
        (100.0, 0.18 + math.exp(-100.0 / 36.0) * 0.82),  # 0.231056
        (500.0, 0.036 + math.exp(-500.0 / 36.0) * 0.964),  # 0.036001
    ],
)
def test_umi_los_probability_closed_form(d2d_m: float, expected: float) -> None:
    assert float(los_probability("UMi", d2d_m, 1.5)) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(_umi_los_probability(d2d_m), rel=1e-12)


@pytest.mark.parametrize("h_ut_m", [1.5, 7.5, 13.0])
@pytest.mark.parametrize("d2d_m", [19.0, 63.0, 200.0, 1000.0])
def test_uma_los_probability_low_ue_is_umi_form_with_63m(h_ut_m: float, d2d_m: float) -> None:
    # TR 38.901 Table 7.4.2-1, UMa: C'(h_UT) = 0 for h_UT <= 13 m
    expected = 18.0 / d2d_m + math.exp(-d2d_m / 63.0) * (1.0 - 18.0 / d2d_m)
    assert float(los_probability("UMa", d2d_m, h_ut_m)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("d2d_m", [50.0, 100.0, 300.0])
def test_uma_los_probability_high_ue_has_c_prime_one(d2d_m: float) -> None:
    # h_UT = 23 m: C'(h_UT) = ((23 - 13) / 10)^1.5 = 1
    base = 18.0 / d2d_m + math.exp(-d2d_m / 63.0) * (1.0 - 18.0 / d2d_m)
    expected = base * (1.0 + 1.25 * (d2d_m / 100.0) ** 3 * math.exp(-d2d_m / 150.0))
    assert float(los_probability("UMa", d2d_m, 23.0)) == pytest.approx(expected, rel=1e-12)
    # a UE on a higher floor sees LOS more often
    assert float(los_probability("UMa", d2d_m, 23.0)) > float(los_probability("UMa", d2d_m, 1.5))


@settings(max_examples=40, deadline=None)
@given(
    env=st.sampled_from(["UMa", "UMi"]),
    distances=st.lists(st.floats(0.0, 5000.0), min_size=2, max_size=30),
    h_ut_m=st.floats(1.5, 13.0),
)
def test_los_probability_non_increasing_in_distance(
    env: str, distances: list[float], h_ut_m: float
) -> None:
    d2d_m = np.sort(distances)
    p = los_probability(env, d2d_m, h_ut_m)
    assert np.all((p >= 0.0) & (p <= 1.0))
    assert np.all(np.diff(p) <= 1e-15)


def test_shadow_fading_sigma_table() -> None:
    # TR 38.901 Table 7.4.1-1
    np.testing.assert_array_equal(shadow_fading_std_db("UMa", [True, False]), [4.0, 6.0])
    np.testing.assert_array_equal(shadow_fading_std_db("UMi", [True, False]), [4.0, 7.82])


# --- O2I building penetration, TR 38.901 Table 7.4.3-2 ------------------------------------------


def test_o2i_low_loss_at_3_5ghz() -> None:
    # Worked by hand at f = 3.5 GHz (Table 7.4.3-1): L_glass = 2 + 0.2 * 3.5 = 2.7 dB,
    # L_concrete = 5 + 4 * 3.5 = 19 dB; 0.3 * 10^-0.27 = 0.161110, 0.7 * 10^-1.9 = 0.008812;
    # PL_tw = 5 - 10 log10(0.169922) = 5 + 7.6975 = 12.6975 dB; PL_in = 0.5 d_2D-in.
    pl_tw_db = 12.6975
    assert float(o2i_low_loss_db(3.5, 0.0)) == pytest.approx(pl_tw_db, abs=1e-4)
    np.testing.assert_allclose(
        o2i_low_loss_db(3.5, [0.0, 10.0, 25.0]),
        [pl_tw_db, pl_tw_db + 5.0, pl_tw_db + 12.5],
        atol=1e-4,
    )


def test_o2i_loss_grows_with_frequency() -> None:
    fc_ghz = np.array([0.7, 1.8, 3.5, 6.0, 28.0])
    assert np.all(np.diff(o2i_low_loss_db(fc_ghz, 0.0)) > 0.0)


def test_o2i_high_loss_worked_values() -> None:
    """TR 38.901 Table 7.4.3-2 high-loss, by hand: 3.5 GHz L_IRR = 24.05, L_c = 19 dB,
    PL_tw = 5 - 10 log10(0.7 10^-2.405 + 0.3 10^-1.9) = 26.85 dB; 1.8 GHz: 21.74 dB; plus
    0.5 d_2D-in. High loss is above low loss at every frequency."""
    assert float(o2i_high_loss_db(3.5, 0.0)) == pytest.approx(26.85, abs=0.01)
    assert float(o2i_high_loss_db(1.8, 0.0)) == pytest.approx(21.74, abs=0.01)
    assert float(o2i_high_loss_db(3.5, 10.0)) == pytest.approx(26.85 + 5.0, abs=0.01)
    f = np.linspace(0.5, 6.0, 12)
    assert np.all(o2i_high_loss_db(f, 0.0) > o2i_low_loss_db(f, 0.0))
    for fc in f:
        irr, conc = 23.0 + 0.3 * fc, 5.0 + 4.0 * fc
        loop = 5.0 - 10.0 * math.log10(0.7 * 10 ** (-irr / 10) + 0.3 * 10 ** (-conc / 10))
        assert float(o2i_high_loss_db(fc, 0.0)) == pytest.approx(loop, rel=1e-12)
