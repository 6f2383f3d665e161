"""Slice shares: the LP keeps every SLA bound, and the twin confirms it against the equal split."""

import numpy as np
import pytest

from ranopt.errors import ValidationError
from ranopt.optimize.slicing import (
    MMTC,
    URLLC,
    SliceSla,
    check_slices,
    equal_split,
    plan_slicing,
    slice_needs,
    solve_shares_lp,
    to_policy_percent,
)
from ranopt.twin import Twin, build_twin, scenario_preset
from ranopt.twin.traffic import busy_interval, day_rng, realised_demand_mbps
from ranopt.twin.units import FloatArray


@pytest.fixture(scope="module")
def twin() -> Twin:
    return build_twin(scenario_preset("default", seed=1, num_sites=7, num_ues=600))


@pytest.fixture(scope="module")
def evening(twin: Twin) -> FloatArray:
    t = busy_interval(twin.traffic, 0)
    return realised_demand_mbps(twin.traffic, 0, day_rng(1, 0))[t - 8 : t + 1 : 4]


def test_lp_shares_cover_every_requirement(twin: Twin, evening: FloatArray):
    sla = SliceSla()
    needs = slice_needs(twin, evening[-1], sla)
    shares, short, info = solve_shares_lp(needs, sla)
    assert str(info.status) == "optimal"
    assert (shares.sum(axis=1) <= 1.0 + 1e-9).all()
    ok = ~short
    # whole-percent rounding may give back at most 1 % where rounding up overfills a cell
    assert (shares[ok] >= np.minimum(needs.required_share[ok], 1.0) - 0.01 - 1e-9).all()
    # short cells are exactly those whose requirements do not fit the carrier
    assert (short == (needs.required_share.sum(axis=1) > 1.0 + 1e-9)).all()
    # whole percent (TS 28.541 rRMPolicyDedicatedRatio)
    assert np.allclose(shares * 100, np.round(shares * 100))


def test_policy_percent_rounds_up_within_the_carrier():
    shares = to_policy_percent(np.array([[0.501, 0.2, 0.1], [0.7, 0.25, 0.049]]))
    assert shares[0].tolist() == pytest.approx([0.51, 0.2, 0.1])
    assert shares[1].tolist() == pytest.approx([0.7, 0.25, 0.05])
    full = to_policy_percent(np.array([[0.9449, 0.0351, 0.02]]))  # ceil would give 101 %
    assert full[0].tolist() == pytest.approx([0.95, 0.03, 0.02])


def test_plan_removes_violations_the_equal_split_has(twin: Twin, evening: FloatArray):
    result = plan_slicing(twin, evening)
    before = sum(
        int((c.broken & ~result.short[t][:, None]).sum()) for t, c in enumerate(result.before)
    )
    after = sum(
        int((c.broken & ~result.short[t][:, None]).sum()) for t, c in enumerate(result.after)
    )
    assert before > 0
    assert after == 0
    assert all(
        c.snapshot.served_ratio >= b.snapshot.served_ratio - 1e-9
        for b, c in zip(result.before, result.after, strict=True)
    )
    assert all(c.spare_share > 0 for c in result.after)


def test_check_counts_a_starved_urllc_slice(twin: Twin, evening: FloatArray):
    sla = SliceSla()
    shares = equal_split(twin.num_cells)
    needs = slice_needs(twin, evening[-1], sla)
    busy = int(np.argmax(needs.prb_demand[:, URLLC]))
    assert needs.prb_demand[busy, URLLC] > 0
    # leave that cell's URLLC slice just its own demand: utilisation ~ 1 > 0.5
    shares[busy, URLLC] = needs.prb_demand[busy, URLLC] * 1.05
    check = check_slices(twin, evening[-1], shares, sla)
    assert check.broken[busy, URLLC]
    assert not check.broken[:, MMTC].any()


def test_sla_validation():
    with pytest.raises(ValidationError, match="urllc_max_load"):
        SliceSla(urllc_max_load=0.0)
