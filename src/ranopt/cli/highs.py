"""HiGHS prints a banner from C at its first construction in a process: keep it out of sight."""

import os
import sys


def silence_highs_banner() -> None:
    """Construct HiGHS once with stdout sent to /dev/null, so its banner reaches no one.

    The banner is printed once per process, on the first ``highspy.Highs()``; every solve
    afterwards runs with ``output_flag`` off. Call it before a command that may solve.
    """
    import highspy  # noqa: PLC0415 (the banner is printed at first construction)

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
