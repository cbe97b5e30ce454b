"""The routing error tree.

    RoutingError                       every error the routing core raises
    ├── InvalidCoordinate (ValueError) NaN, infinite or out-of-range lat/lon
    ├── OutsideNetwork (ValueError)    a point too far from any road to snap
    ├── InvalidArgument (ValueError)   a bad parameter: k < 1, factor <= 0, empty polygon, ...
    ├── UnknownId (KeyError)           an edge, node or street name the network does not have
    ├── NetworkLoadError (OSError)     a network file that is missing, unreadable or empty
    └── CityError (ValueError)         a city folder without a readable city.toml, or one
                                       naming a layer file that is not there

"No route" and "no unit found" are return values (None, an empty list), not errors.
"""

from __future__ import annotations


class RoutingError(Exception):
    """Base of every error raised by the routing core."""

    reason: str = "routing_error"


class InvalidCoordinate(RoutingError, ValueError):
    """A latitude/longitude that is NaN, infinite or out of range."""

    reason = "invalid_coordinate"


class OutsideNetwork(RoutingError, ValueError):
    """A point farther from the nearest road than the snapping limit allows."""

    reason = "outside_network"

    def __init__(self, lat: float, lon: float, distance_m: float, limit_m: float) -> None:
        super().__init__(
            f"point ({lat:.6f}, {lon:.6f}) is {distance_m:.0f} m from the nearest road "
            f"(limit {limit_m:.0f} m)"
        )
        self.lat = lat
        self.lon = lon
        self.distance_m = distance_m
        self.limit_m = limit_m


class InvalidArgument(RoutingError, ValueError):
    """A parameter outside its allowed range."""

    reason = "invalid_argument"


class UnknownId(RoutingError, KeyError):
    """An edge id, node id or street name the network does not contain."""

    reason = "unknown_id"

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else "unknown id"


class NetworkLoadError(RoutingError, OSError):
    """A network source that cannot be read or holds no usable roads."""

    reason = "network_load_error"


class CityError(RoutingError, ValueError):
    """A city folder whose city.toml is missing, malformed or names a file that is not there."""

    reason = "city_error"
