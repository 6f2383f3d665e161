"""Cell-outage detection from telemetry: a cell that goes silent, or whose traffic vanishes.

Two signatures of a failed cell in PM data (the "sleeping cell" problem): it stops reporting
(the O-DU or its O-RU is down), or it keeps reporting but carries nothing while its
neighbours take on the traffic it had (a cell that no UE can camp on). A cell asleep by plan
carries nothing by design and still reports, so only silence counts for it.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_array

from ranopt.errors import ValidationError
from ranopt.twin.model import Twin
from ranopt.twin.units import FloatArray

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class OutageFinding:
    """A cell judged failed, and why."""

    cell: int
    reason: Literal["silent", "traffic_vanished"]
    lost_mbps: float  # traffic the cell carried in the previous interval


@dataclass(frozen=True)
class DetectionLimits:
    """When vanished traffic counts as an outage."""

    min_previous_mbps: float = 1.0  # the cell carried at least this before
    min_neighbour_share: float = 0.5  # neighbours gained at least this share of it


def neighbour_lists(twin: Twin, count: int = 12) -> tuple[IntArray, ...]:
    """Each cell's neighbours: the cells most often suitable for the UEs it could serve.

    The role of the neighbour relation table (TS 38.300 ANR): two cells are neighbours when
    UEs can camp on both. Counting shared suitable UEs gives coverage cells (never a UE's
    strongest cell while the capacity layer is on) neighbours too.
    """
    link = twin.link
    rows, cols = np.nonzero(link.suitable(twin.scenario.rsrp_min_dbm))  # [n] suitable pairs
    incidence = csr_array(
        (np.ones(rows.size), (rows, link.cell_idx[rows, cols])),
        shape=(twin.num_ues, twin.num_cells),
    )
    shared = (incidence.T @ incidence).toarray()  # [C, C] UEs suitable for both cells
    np.fill_diagonal(shared, 0.0)
    lists = []
    for cell in range(twin.num_cells):
        order = np.argsort(-shared[cell], kind="stable")[:count]
        lists.append(np.asarray(order[shared[cell, order] > 0], dtype=np.int64))
    return tuple(lists)


def detect_outages(
    reported: BoolArray,
    planned_active: BoolArray,
    served_mbps: FloatArray,
    previous_served_mbps: FloatArray,
    neighbours: tuple[IntArray, ...],
    limits: DetectionLimits | None = None,
    previous_active: BoolArray | None = None,
) -> tuple[OutageFinding, ...]:
    """Judge which cells failed in the newest interval (all arrays ``[C]``).

    ``reported`` is False where a cell sent no counters; ``served_mbps`` is 0 there. Traffic
    that vanished counts only where the plan explains no shift: the cell and its neighbours
    kept their on/sleep state from ``previous_active`` (a coverage cell loses its traffic when
    the capacity cell above it wakes; that is the plan, not an outage).
    """
    limits = limits or DetectionLimits()
    num_cells = reported.shape[0]
    previous_active = planned_active if previous_active is None else previous_active
    for name, array in (
        ("planned_active", planned_active),
        ("previous_active", previous_active),
        ("served_mbps", served_mbps),
        ("previous_served_mbps", previous_served_mbps),
    ):
        if array.shape != (num_cells,):
            msg = f"{name} must have shape ({num_cells},), got {array.shape}"
            raise ValidationError(msg)
    if len(neighbours) != num_cells:
        msg = f"neighbours must list {num_cells} cells, got {len(neighbours)}"
        raise ValidationError(msg)
    findings = [
        OutageFinding(int(c), "silent", float(previous_served_mbps[c]))
        for c in np.flatnonzero(~reported)
    ]
    vanished = (
        reported
        & planned_active
        & previous_active
        & (served_mbps <= 0.0)
        & (previous_served_mbps >= limits.min_previous_mbps)
    )
    for cell in np.flatnonzero(vanished):
        near = neighbours[cell]
        if (planned_active[near] != previous_active[near]).any():
            continue  # the plan woke or slept a neighbour: the traffic moved by design
        gained = float((served_mbps[near] - previous_served_mbps[near]).sum())
        if gained >= limits.min_neighbour_share * previous_served_mbps[cell]:
            findings.append(
                OutageFinding(int(cell), "traffic_vanished", float(previous_served_mbps[cell]))
            )
    return tuple(findings)
