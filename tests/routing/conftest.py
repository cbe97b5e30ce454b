"""Fixtures for the routing tests: the Wulin fixture network and a networkx reference.

The Wulin box (3,949 nodes) keeps every test fast; the reference answers the same questions
with networkx on the very same compiled graph, treating road points as virtual nodes, so a
disagreement is our bug, not a data difference (`tests.support.routing`).
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from routing.compile import to_networkx
from routing.load import load_network
from routing.network import RoadNetwork
from routing.router import Router


@pytest.fixture(scope="session")
def cache_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private cache folder, so tests never read a developer's stale cache."""
    return tmp_path_factory.mktemp("jijiu-cache")


@pytest.fixture(scope="session")
def wulin(cache_path: Path) -> RoadNetwork:
    """The bundled Wulin Square fixture network, compiled once per session."""
    net, _ = load_network("wulin", cache=cache_path)
    return net


@pytest.fixture(scope="session")
def router(wulin: RoadNetwork) -> Router:
    """A router on the Wulin network at free flow (congestion tests use their own copy)."""
    return Router(wulin)


@pytest.fixture()
def own_router(cache_path: Path) -> Router:
    """A router on a private copy of the Wulin network, for tests that change weights."""
    net, _ = load_network("wulin", cache=cache_path)
    return Router(net)


@pytest.fixture(scope="session")
def wulin_nx(wulin: RoadNetwork) -> nx.DiGraph:
    """The Wulin graph in networkx, for `tests.support.routing.reference_eta`."""
    return to_networkx(wulin)
