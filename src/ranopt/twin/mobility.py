"""Daily mobility: commuters spend the working day at a workplace and the rest at home.

A user is one person with one daily usage profile; a commuter appears at two places, home and
work, as two UE *slots* of the twin whose presence shares add up to one at every interval. The
link budget is computed once per slot, so a commuter's traffic moves between the cells of its
two places as the day goes (the twin's 15-minute granularity has no time on the road).

The presence curve is a modelling assumption: its shape follows the share of employed people
at their workplace by hour of a weekday in time-use surveys (U.S. Bureau of Labor Statistics,
American Time Use Survey charts "working at the workplace by hour of the day"), scaled to one
at the midday plateau for people who commute that day.
"""

import numpy as np

from ranopt.twin.units import FloatArray

PROFILE_KINDS: tuple[str, ...] = ("resident", "commuter_home", "commuter_work")
RESIDENT, COMMUTER_HOME, COMMUTER_WORK = 0, 1, 2

# share of commuters at their workplace per hour of a weekday (00:00-01:00 first)
AT_WORK_HOURLY = np.array(
    [0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.05, 0.30, 0.75, 0.95, 0.95, 0.95,
     0.80, 0.90, 0.95, 0.95, 0.80, 0.45, 0.15, 0.05, 0.00, 0.00, 0.00, 0.00]
)  # fmt: skip
# weekday factor of that presence (Monday first): few commute at the weekend (assumption)
AT_WORK_WEEKDAY = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.15, 0.05])


def at_work_share(intervals_per_day: int, day: int) -> FloatArray:
    """Return the share of commuters at work in each interval of ``day``, ``[T]``.

    Hourly values sit at mid-hour and are interpolated periodically, as the usage profile is.
    """
    t_h = (np.arange(intervals_per_day) + 0.5) * 24.0 / intervals_per_day
    hours = np.arange(24) + 0.5
    share = np.interp(t_h, hours, AT_WORK_HOURLY, period=24.0)
    return np.asarray(share * AT_WORK_WEEKDAY[day % 7], dtype=np.float64)


def presence(intervals_per_day: int, day: int) -> FloatArray:
    """Return the presence of each ``PROFILE_KINDS`` slot per interval, ``[3, T]``.

    A resident is always home; a commuter's home and work slots share the day.
    """
    work = at_work_share(intervals_per_day, day)
    return np.stack([np.ones_like(work), 1.0 - work, work])
