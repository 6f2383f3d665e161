"""Cell-outage detection: silent cells, vanished traffic, and the neighbour lists it uses.

``detect_outages`` is checked on hand-made counters of four cells; ``neighbour_lists`` on the
shared seven-site twin against a plain count of its UEs' link lists.
"""

import numpy as np
import numpy.typing as npt
import pytest

from ranopt.errors import ValidationError
from ranopt.optimize.outage import DetectionLimits, OutageFinding, detect_outages, neighbour_lists
from ranopt.twin import CellState, Twin, evaluate_snapshot
from ranopt.twin.units import FloatArray

IntArray = npt.NDArray[np.int64]

# cell 0's neighbours are 1 and 2; the others list each other
NEIGHBOURS: tuple[IntArray, ...] = (
    np.array([1, 2]),
    np.array([0, 2]),
    np.array([0, 1, 3]),
    np.array([2]),
)
PREVIOUS = np.array([10.0, 4.0, 6.0, 3.0])
ALL = np.ones(4, dtype=bool)


def detect(
    served: list[float],
    *,
    reported: list[bool] | None = None,
    planned: list[bool] | None = None,
    previous: npt.NDArray[np.float64] = PREVIOUS,
    limits: DetectionLimits | None = None,
    previous_planned: list[bool] | None = None,
) -> tuple[OutageFinding, ...]:
    return detect_outages(
        ALL.copy() if reported is None else np.array(reported),
        ALL.copy() if planned is None else np.array(planned),
        np.array(served),
        previous,
        NEIGHBOURS,
        limits,
        previous_active=None if previous_planned is None else np.array(previous_planned),
    )


def test_nothing_found_in_normal_operation() -> None:
    assert detect([9.0, 4.5, 6.2, 2.0]) == ()


@pytest.mark.parametrize("planned_active", [True, False])
def test_a_silent_cell_is_found_whatever_its_plan(planned_active: bool) -> None:
    planned = [True, True, planned_active, True]
    findings = detect([10.0, 4.0, 0.0, 3.0], reported=[True, True, False, True], planned=planned)
    assert findings == (OutageFinding(cell=2, reason="silent", lost_mbps=6.0),)


def test_a_silent_cell_is_found_even_with_no_traffic_before() -> None:
    previous = np.array([10.0, 4.0, 6.0, 0.0])
    findings = detect([10.0, 4.0, 6.0, 0.0], reported=[True, True, True, False], previous=previous)
    assert findings == (OutageFinding(cell=3, reason="silent", lost_mbps=0.0),)


def test_vanished_traffic_taken_by_the_neighbours_is_found() -> None:
    # cell 0 carried 10, now 0; neighbours 1 and 2 gained 3 + 3 = 6 >= 5
    findings = detect([0.0, 7.0, 9.0, 3.0])
    assert findings == (OutageFinding(cell=0, reason="traffic_vanished", lost_mbps=10.0),)


def test_vanished_traffic_at_exactly_half_the_loss_is_found() -> None:
    findings = detect([0.0, 6.0, 9.0, 3.0])  # gained 2 + 3 = 5 = 0.5 * 10
    assert [f.cell for f in findings] == [0]


def test_traffic_the_plan_moved_is_not_an_outage() -> None:
    # neighbour 1 was asleep and woke: cell 0's UEs went to it by design (a coverage cell
    # loses its traffic when the capacity cell above it wakes)
    moved = detect([0.0, 14.0, 6.0, 3.0], previous_planned=[True, False, True, True])
    assert moved == ()
    # cell 0 itself was asleep before: nothing of its own could vanish
    assert detect([0.0, 7.0, 9.0, 3.0], previous_planned=[False, True, True, True]) == ()
    # a state change elsewhere (cell 3 is not cell 0's neighbour) does not hide the outage
    found = detect([0.0, 7.0, 9.0, 3.0], previous_planned=[True, True, True, False])
    assert [f.cell for f in found] == [0]


def test_vanished_traffic_not_found_when_neighbours_did_not_gain() -> None:
    assert detect([0.0, 6.0, 8.9, 3.0]) == ()  # gained 4.9 < 5
    assert detect([0.0, 4.0, 6.0, 3.0]) == ()  # gained nothing


def test_gain_outside_the_neighbour_list_does_not_count() -> None:
    assert detect([0.0, 4.0, 6.0, 20.0]) == ()  # cell 3 is not a neighbour of cell 0


def test_vanished_traffic_not_found_for_a_cell_asleep_by_plan() -> None:
    assert detect([0.0, 7.0, 9.0, 3.0], planned=[False, True, True, True]) == ()


def test_vanished_traffic_needs_enough_traffic_before() -> None:
    served = [0.0, 4.5, 6.5, 3.0]  # neighbours gained 1 Mbit/s
    too_little = np.array([0.9, 4.0, 6.0, 3.0])
    assert detect(served, previous=too_little) == ()
    just_enough = np.array([1.0, 4.0, 6.0, 3.0])
    assert detect(served, previous=just_enough) == (
        OutageFinding(cell=0, reason="traffic_vanished", lost_mbps=1.0),
    )


def test_a_cell_still_carrying_traffic_is_not_found() -> None:
    assert detect([0.5, 9.0, 12.0, 3.0]) == ()


def test_detection_limits_are_honoured() -> None:
    served = [0.0, 6.0, 8.0, 3.0]  # gained 4 of 10
    assert detect(served) == ()
    assert [f.cell for f in detect(served, limits=DetectionLimits(min_neighbour_share=0.4))] == [0]
    strict = DetectionLimits(min_previous_mbps=20.0, min_neighbour_share=0.0)
    assert detect(served, limits=strict) == ()


def test_silent_and_vanished_cells_are_both_reported() -> None:
    # cell 3 silent; cell 0 vanished while 1 and 2 gained 6 (cell 3's neighbours do not matter)
    findings = detect([0.0, 7.0, 9.0, 0.0], reported=[True, True, True, False])
    assert findings == (
        OutageFinding(cell=3, reason="silent", lost_mbps=3.0),
        OutageFinding(cell=0, reason="traffic_vanished", lost_mbps=10.0),
    )


def test_a_silent_cell_is_not_reported_twice() -> None:
    findings = detect([0.0, 7.0, 9.0, 3.0], reported=[False, True, True, True])
    assert findings == (OutageFinding(cell=0, reason="silent", lost_mbps=10.0),)


@pytest.mark.parametrize("bad", ["planned_active", "served_mbps", "previous_served_mbps"])
def test_shape_errors_raise(bad: str) -> None:
    arrays = {
        "planned_active": ALL.copy(),
        "served_mbps": np.zeros(4),
        "previous_served_mbps": PREVIOUS,
    }
    arrays[bad] = arrays[bad][:3]
    with pytest.raises(ValidationError, match=bad):
        detect_outages(
            ALL.copy(),
            arrays["planned_active"],
            arrays["served_mbps"],
            arrays["previous_served_mbps"],
            NEIGHBOURS,
        )


def test_a_short_neighbour_list_raises() -> None:
    with pytest.raises(ValidationError, match="neighbours"):
        detect_outages(ALL, ALL, np.zeros(4), PREVIOUS, NEIGHBOURS[:3])


# -- neighbour_lists on a twin --------------------------------------------------------------


def best_servers(twin: Twin) -> IntArray:
    """Each UE's strongest cell in its link list."""
    link = twin.link
    return np.asarray(
        [link.cell_idx[u, int(np.argmax(link.rsrp_dbm[u]))] for u in range(twin.num_ues)]
    )


def _shared_suitable(twin: Twin) -> np.ndarray:
    """Plain-loop reference: UEs for which both cells are suitable (band supported, S-criterion
    met), ``[C, C]``."""
    link = twin.link
    shared = np.zeros((twin.num_cells, twin.num_cells))
    for u in range(twin.num_ues):
        cells = [
            int(link.cell_idx[u, k])
            for k in range(link.cell_idx.shape[1])
            if link.rsrp_dbm[u, k] >= twin.scenario.rsrp_min_dbm
            and (twin.ues.supports_n78[u] or twin.arrays.band[link.cell_idx[u, k]] != "n78")
        ]
        for a in cells:
            for b in cells:
                if a != b:
                    shared[a, b] += 1
    return shared


def test_neighbour_lists_are_valid(seven_site_twin: Twin) -> None:
    lists = neighbour_lists(seven_site_twin)
    num_cells = seven_site_twin.num_cells
    assert len(lists) == num_cells
    shared = _shared_suitable(seven_site_twin)
    for cell, near in enumerate(lists):
        assert cell not in near.tolist()
        assert len(near) <= 12
        assert len(set(near.tolist())) == len(near)
        assert ((near >= 0) & (near < num_cells)).all()
        # every cell some UE can camp on together with another has neighbours, coverage too
        assert (len(near) > 0) == bool(shared[cell].any()), cell
    assert all(len(near) > 0 for near in lists)


def test_neighbour_lists_rank_cells_by_shared_suitable_ues(seven_site_twin: Twin) -> None:
    shared = _shared_suitable(seven_site_twin)
    lists = neighbour_lists(seven_site_twin, count=3)
    assert max(len(near) for near in lists) == 3
    for cell, near in enumerate(lists):
        got = [shared[cell, c] for c in near.tolist()]
        assert got == sorted(got, reverse=True)
        assert got[0] == shared[cell].max()
        # nothing left out shares more UEs with the cell than the last one listed
        left_out = [shared[cell, c] for c in range(len(shared)) if c not in near and c != cell]
        assert all(n <= got[-1] for n in left_out)


def test_a_coverage_cell_serving_at_night_has_neighbours(
    seven_site_twin: Twin, night_demand: FloatArray
) -> None:
    # capacity cells asleep: the coverage cells serve everyone, and a failed one's traffic
    # can only be judged against its neighbours
    twin = seven_site_twin
    coverage = twin.arrays.layer == 0
    state = CellState.all_on(twin.num_cells).with_active(coverage.copy())
    snap = evaluate_snapshot(twin, state, night_demand[0])
    serving = set(snap.serving_cell[snap.serving_cell >= 0].tolist())
    assert serving
    assert serving <= set(np.flatnonzero(coverage).tolist())
    lists = neighbour_lists(twin)
    assert all(len(lists[c]) > 0 for c in serving)
