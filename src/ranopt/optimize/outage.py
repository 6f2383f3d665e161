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
    """Each cell's neighbours: the cells most often in its UEs' link lists (the NRT's role)."""
    link = twin.link
    suitable = link.rsrp_dbm >= twin.scenario.rsrp_min_dbm  # [U, K]
    best = link.cell_idx[np.arange(twin.num_ues), np.argmax(link.rsrp_dbm, axis=1)]
    lists = []
    for cell in range(twin.num_cells):
        rows = best == cell
        cells = link.cell_idx[rows][suitable[rows]]
        counts = np.bincount(cells, minlength=twin.num_cells)
        counts[cell] = 0
        order = np.argsort(-counts, kind="stable")[:count]
        lists.append(np.asarray(order[counts[order] > 0], dtype=np.int64))
    return tuple(lists)


def detect_outages(
    reported: BoolArray,
    planned_active: BoolArray,
    served_mbps: FloatArray,
    previous_served_mbps: FloatArray,
    neighbours: tuple[IntArray, ...],
    limits: DetectionLimits | None = None,
) -> tuple[OutageFinding, ...]:
    """Judge which cells failed in the newest interval (all arrays ``[C]``).

    ``reported`` is False where a cell sent no counters; ``served_mbps`` is 0 there.
    """
    limits = limits or DetectionLimits()
    num_cells = reported.shape[0]
    for name, array in (
        ("planned_active", planned_active),
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
        & (served_mbps <= 0.0)
        & (previous_served_mbps >= limits.min_previous_mbps)
    )
    for cell in np.flatnonzero(vanished):
        near = neighbours[cell]
        gained = float((served_mbps[near] - previous_served_mbps[near]).sum())
        if gained >= limits.min_neighbour_share * previous_served_mbps[cell]:
            findings.append(
                OutageFinding(int(cell), "traffic_vanished", float(previous_served_mbps[cell]))
            )
    return tuple(findings)
