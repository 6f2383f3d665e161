"""Cell outage in the twin: a failed cell radiates nothing, serves no one and draws no power.

A failed cell differs from a sleeping one: it cannot be woken, and in the counterfactual
(every cell on) it is still down, because the failure is physical, not a decision.
"""

from dataclasses import replace

import numpy as np

from ranopt.errors import ValidationError
from ranopt.twin.model import Twin

# far below any suitability threshold (TS 38.304 S-criterion), so no UE ever selects the cell
FAILED_RSRP_DBM = -400.0


def with_failed_cells(twin: Twin, failed: frozenset[int]) -> Twin:
    """Return the twin with ``failed`` cells down (no signal, no interference, 0 W)."""
    if not failed:
        return twin
    bad = sorted(c for c in failed if not 0 <= c < twin.num_cells)
    if bad:
        msg = f"failed cells must lie in [0, {twin.num_cells}), got {bad}"
        raise ValidationError(msg)
    mask = np.zeros(twin.num_cells, dtype=bool)
    mask[sorted(failed)] = True
    link = twin.link
    down = mask[link.cell_idx]  # [U, K] entries of failed cells
    degraded_link = replace(
        link,
        rsrp_dbm=np.where(down, FAILED_RSRP_DBM, link.rsrp_dbm),
        rank_db=np.where(down, FAILED_RSRP_DBM, link.rank_db),
        signal_w=np.where(down, 0.0, link.signal_w),
        interference_w=np.where(down, 0.0, link.interference_w),
    )
    arrays = twin.arrays
    zero = np.where(mask, 0.0, 1.0)
    degraded_arrays = replace(
        arrays,
        p0_w=arrays.p0_w * zero,
        delta_p=arrays.delta_p * zero,
        p_sleep_w=arrays.p_sleep_w * zero,
        p_light_sleep_w=arrays.p_light_sleep_w * zero,
    )
    return replace(twin, link=degraded_link, arrays=degraded_arrays)
