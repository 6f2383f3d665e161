"""Link abstraction: SINR to spectral efficiency."""

import numpy as np
import numpy.typing as npt

from ranopt.twin.units import FloatArray, db_to_lin

SHANNON_ATTENUATION = (
    0.6  # TR 36.942 Annex A.2: alpha = 0.6 (DL, implementation and overhead losses)
)
SINR_MIN_DB = -10.0  # TR 36.942 Annex A.2: SINR_MIN = -10 dB, below it the throughput is 0
SPECTRAL_EFFICIENCY_MAX = 7.4063  # TS 38.214 Table 5.2.2.1-3: CQI 15, 256QAM, 7.4063 bit/s/Hz


SINR_MIN_LIN = float(db_to_lin(SINR_MIN_DB))


def spectral_efficiency(sinr_lin: npt.ArrayLike) -> FloatArray:
    """Return the attenuated, capped Shannon spectral efficiency, bit/s/Hz.

    TR 36.942 Annex A.2: ``alpha log2(1 + SINR)`` between ``SINR_MIN`` and the cap; the cap is
    the highest NR efficiency of TS 38.214 (256QAM), 0 below ``SINR_MIN``. Computed in one
    buffer (the fixed point calls it on every UE in every iteration).
    """
    sinr = np.asarray(sinr_lin, dtype=np.float64)
    # TR 36.942 Annex A.2: Thr = alpha * log2(1 + SINR), capped at Thr_MAX
    se = np.array(sinr, dtype=np.float64, copy=True)
    se += 1.0
    np.log2(se, out=se)
    se *= SHANNON_ATTENUATION
    np.minimum(se, SPECTRAL_EFFICIENCY_MAX, out=se)
    np.copyto(se, 0.0, where=~(sinr >= SINR_MIN_LIN))
    return se
