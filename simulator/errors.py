"""The simulator error tree.

    SimulatorError                       every error the simulator raises
    ├── InvalidArgument (ValueError)     a bad parameter: a share outside 0..1, no arrests, ...
    └── NoPlaceableArrest (ValueError)   the network gave no point to put an arrest on

Not errors: a simulated arrest nobody volunteers for (its first-volunteer time is infinite),
an AED that is closed at the arrest's hour (it is simply not fetched).
"""

from __future__ import annotations


class SimulatorError(Exception):
    """Base of every error raised by the simulator."""

    reason: str = "simulator_error"


class InvalidArgument(SimulatorError, ValueError):
    """A parameter outside its allowed range."""

    reason = "invalid_argument"


class NoPlaceableArrest(SimulatorError, ValueError):
    """No arrest location on the walking map and reachable by road after many draws."""

    reason = "no_placeable_arrest"
