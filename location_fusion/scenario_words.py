"""SYNTHETIC words for a call: what the caller says about where they are, and how wrong it is.

The caller names the nearest junction (within 60 m), else a hospital within 250 m, else the
nearest street, in the ways people say them (`location_fusion.speech`), garbled by speech
recognition. Some callers are planted wrong: a wrong street or a junction elsewhere, a
misheard street name (another real street's: 文二路 for 文三路; street phrases only: a
junction with one name misheard still names one right street), or a partial name (石祥 for 石祥西路:
right, but ambiguous). Each phrase comes with its true error: metres from the true spot to the
junction, place or street line the words name (`planted.StreetLines`, from the network).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from location_fusion.gazetteer import Gazetteer
from location_fusion.planted import StreetLines, distance_m
from location_fusion.speech import (
    add_speech_noise,
    phrase_for_intersection,
    phrase_for_place,
    phrase_for_street,
)
from routing.network import RoadNetwork

if TYPE_CHECKING:
    from location_fusion.scenario import ScenarioMix

JUNCTION_SAID_M = 60.0  # a caller this near a junction names it
PLACE_SAID_M = 250.0  # ...else a hospital this near
DIRECTIONS = "东西南北中"


@dataclass(frozen=True)
class Words:
    """One phrase as recognised, what was meant, and what was planted in it."""

    text: str
    kind: str  # "intersection" | "street" | "place"
    names: tuple[str, ...]  # what the caller meant (canonical names)
    wrong: bool  # the words name somewhere else
    error_m: float  # metres from the truth to what the words name
    plant: str  # "" | "wrong_street" | "misheard_street" | "wrong_junction" | "partial_name"


class WordsMaker:
    """Phrases for true spots on one network, with the hospitals callers name."""

    def __init__(
        self,
        net: RoadNetwork,
        gazetteer: Gazetteer,
        places: list[tuple[str, float, float]],
        lines: StreetLines,
    ) -> None:
        self.net = net
        self.gazetteer = gazetteer
        self.places = places
        self.lines = lines
        self.streets = gazetteer.street_names()

    def make(self, lat: float, lon: float, rng: np.random.Generator, mix: ScenarioMix) -> Words:
        g = self.gazetteer
        junction = g.nearest_intersection(lon, lat)
        street = g.nearest_street(lon, lat)
        hospital = min(self.places, key=lambda p: distance_m(lat, lon, p[1], p[2]), default=None)
        u = rng.random()
        error = ""
        if u < mix.wrong_street_p:
            error = "wrong"
        elif u < mix.wrong_street_p + mix.misheard_p:
            error = "misheard"
        elif u < mix.wrong_street_p + mix.misheard_p + mix.partial_name_p:
            error = "partial"
        if junction is not None and junction[4] <= JUNCTION_SAID_M:
            w = self._junction(lat, lon, junction, error, rng)
        elif hospital is not None and distance_m(lat, lon, hospital[1], hospital[2]) < PLACE_SAID_M:
            name = hospital[0]
            text = phrase_for_place(name, street[0] if street else None, rng)
            d = distance_m(lat, lon, hospital[1], hospital[2])
            w = Words(text, "place", (name,), False, d, "")
        else:
            w = self._street(lat, lon, street[0] if street else self._other(rng, set()), error, rng)
        return Words(
            add_speech_noise(w.text, rng, mix.noise_level),
            w.kind,
            w.names,
            w.wrong,
            w.error_m,
            w.plant,
        )

    def _junction(
        self,
        lat: float,
        lon: float,
        junction: tuple[str, str, float, float, float],
        error: str,
        rng: np.random.Generator,
    ) -> Words:
        a, b, _, _, d = junction
        meant = (a, b)
        if error == "wrong":  # a junction elsewhere: the one nearest a random network node
            node = self.net.node_lonlat[int(rng.integers(self.net.n_nodes))]
            other = self.gazetteer.nearest_intersection(float(node[0]), float(node[1]))
            if other is not None and {other[0], other[1]} != {a, b}:
                far = distance_m(lat, lon, other[3], other[2])
                text = phrase_for_intersection(other[0], other[1], rng)
                return Words(text, "intersection", meant, True, far, "wrong_junction")
        if error == "partial":
            text = phrase_for_intersection(a, _partial(b), rng)
            return Words(text, "intersection", meant, False, d, "partial_name")
        return Words(phrase_for_intersection(a, b, rng), "intersection", meant, False, d, "")

    def _street(
        self, lat: float, lon: float, name: str, error: str, rng: np.random.Generator
    ) -> Words:
        meant = (name,)
        said, plant = name, ""
        if error == "wrong":
            said, plant = self._other(rng, {name}), "wrong_street"
        elif error == "misheard":
            said, plant = self._misheard(name, rng, {name}), "misheard_street"
        elif error == "partial" and _partial(name) != name:
            text = phrase_for_street(_partial(name), rng)
            return Words(
                text, "street", meant, False, self._street_m(name, lat, lon), "partial_name"
            )
        d = self._street_m(said, lat, lon)
        return Words(phrase_for_street(said, rng), "street", meant, plant != "", d, plant)

    def _street_m(self, name: str, lat: float, lon: float) -> float:
        d = self.lines.distance_m(name, lat, lon)
        return d if math.isfinite(d) else 0.0

    def _misheard(self, name: str, rng: np.random.Generator, avoid: set[str]) -> str:
        """Another real street differing from `name` in one character, else sharing its
        first; else any other street."""
        alike = [
            s
            for s in self.streets
            if s not in avoid
            and len(s) == len(name)
            and sum(x != y for x, y in zip(s, name, strict=True)) == 1
        ]
        if not alike:
            alike = [s for s in self.streets if s not in avoid and s[:1] == name[:1]]
        if alike:
            return alike[int(rng.integers(len(alike)))]
        return self._other(rng, avoid)

    def _other(self, rng: np.random.Generator, avoid: set[str]) -> str:
        while True:
            name = str(self.streets[int(rng.integers(0, len(self.streets)))])
            if name not in avoid:
                return name


def _partial(name: str) -> str:
    """The name without its suffix and a trailing direction: 石祥西路 -> 石祥; at least 2
    characters are kept."""
    base = name[:-2] if name.endswith("大道") else name[:-1] if name[-1:] in "路街道巷" else name
    while base[-1:] and base[-1] in DIRECTIONS and len(base) > 2:
        base = base[:-1]
    return base if len(base) >= 2 else name
