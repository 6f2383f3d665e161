"""Southbound tests share the session's emulator (``ran_world`` in ``tests/conftest.py``)."""

import pytest

from emulator_world import RanWorld, RunningEmulator


@pytest.fixture
def emulator(ran_world: RanWorld) -> RunningEmulator:
    """The default network (19 gNBs, 114 cells), manual clock, one O1 endpoint per gNB."""
    return ran_world.emulator
