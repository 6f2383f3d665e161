"""Cell selection as networks do it: SSB RSRP, reselection priorities, UE band support.

TS 38.304 cl. 5.2.4.5 (cell reselection between NR frequencies of different priority): a UE
camps on a higher-priority frequency when a cell there has ``Srxlev > Thresh_X,HighP``, where
``Srxlev = RSRP - Q_rxlevmin`` (cl. 5.2.3.2); otherwise it stays on the lower-priority layer,
and within the chosen frequency it ranks cells by RSRP plus offsets (cl. 5.2.4.6; in connected
mode the cell individual offset of TS 38.331). A cell below the threshold of its layer is
still a suitable last resort. Those rules are one ranking: ``RSRP + PRIORITY_STEP_DB x tier``
with ``tier = priority + 1`` for a cell above its threshold and ``0`` below it, then the
usual argmax of ranking + CIO among suitable active cells (a CIO cannot cross a tier).
"""

import numpy as np
import numpy.typing as npt

from ranopt.twin.units import FloatArray

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# ranking offset between priority tiers: far above any RSRP spread plus CIO (+-24 dB)
PRIORITY_STEP_DB = 1000.0
N78 = "n78"  # TS 38.101-1 Table 5.2-1: 3300-3800 MHz TDD
# TS 38.101-1 Table 5.2-1: downlink ranges (MHz) of common FR1 bands; where bands overlap the
# first listed wins (n78 before n77, the FDD band before the TDD one)
BAND_DL_MHZ: tuple[tuple[str, float, float], ...] = (
    ("n28", 758.0, 803.0), ("n20", 791.0, 821.0), ("n8", 925.0, 960.0),
    ("n3", 1805.0, 1880.0), ("n1", 2110.0, 2170.0), ("n40", 2300.0, 2400.0),
    ("n7", 2620.0, 2690.0), ("n41", 2496.0, 2690.0), ("n78", 3300.0, 3800.0),
    ("n77", 3300.0, 4200.0),
)  # fmt: skip


def band_of_carrier(carrier_ghz: float) -> str:
    """Return the NR band whose downlink range holds a carrier ("" when none listed does)."""
    mhz = carrier_ghz * 1000.0
    return next((name for name, low, high in BAND_DL_MHZ if low <= mhz <= high), "")


def band_supported(ue_supports_n78: BoolArray, cell_band: npt.NDArray[np.str_]) -> BoolArray:
    """Whether UEs can use cells (only n78 needs support); the arguments broadcast."""
    return np.asarray(ue_supports_n78 | (cell_band != N78), dtype=bool)


def selection_rank_db(
    rsrp_dbm: FloatArray,
    priority: IntArray,
    thresh_high_db: FloatArray,
    rsrp_min_dbm: float,
) -> FloatArray:
    """Return the cell-ranking metric of each (UE, cell) entry, dB (shapes broadcast).

    ``priority`` and ``thresh_high_db`` are the entries' cells' ``cellReselectionPriority`` and
    ``threshX-HighP``.
    """
    # TS 38.304 cl. 5.2.3.2: Srxlev = Q_rxlevmeas - Q_rxlevmin
    srxlev_db = rsrp_dbm - rsrp_min_dbm
    # TS 38.304 cl. 5.2.4.5: a higher-priority frequency needs Srxlev > Thresh_X,HighP
    above = srxlev_db > thresh_high_db
    tier = np.where(above, priority + 1, 0)
    return np.asarray(rsrp_dbm + PRIORITY_STEP_DB * tier, dtype=np.float64)
