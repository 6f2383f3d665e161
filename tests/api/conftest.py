"""API fixtures: an app on each backend with two tenants and a token per role."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from api_world import World, api_settings, build_world, store_url

from ranopt.store.engine import Store
from ranopt.store.schemas import TopologyIn


@pytest.fixture
def world_factory(
    store: Store, topology_factory: Callable[..., TopologyIn]
) -> Iterator[Callable[..., World]]:
    """Build worlds on the test's store with setting overrides."""
    made: list[World] = []

    def make(**overrides: Any) -> World:
        world = build_world(store, api_settings(store_url(store), **overrides), topology_factory)
        made.append(world)
        return world

    yield make
    for world in made:
        world.client.close()


@pytest.fixture
def world(world_factory: Callable[..., World]) -> World:
    """The default world on each backend."""
    return world_factory()
