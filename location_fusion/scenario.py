"""SYNTHETIC calls for evaluating fusion: true spots, handset fixes, serving cells, words.

Everything here is made up, seeded and labelled so. A call's true spot is on or near a road of
the bundled city; its handset fixes follow a mixture of sky conditions:

- good sky: GNSS with an honest 3-12 m (68 %) accuracy;
- urban canyon: GNSS biased 100-300 m by multipath while claiming 8-25 m, and half the time
  a Wi-Fi fix beside it (honest, 15-40 m), as Android's network location gives in a city;
- indoor: no GNSS; a Wi-Fi fix (15-50 m) in 60 % of calls, otherwise no fix at all.

Half the calls carry a second, newer fix. The serving sector comes from the synthetic cell
layout; the words name the nearest intersection (within 60 m) or street or hospital, in the
ways people say them, with speech-recognition noise, and now and then a wrong street.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from location_fusion.cells import Cell, CellObservation
from location_fusion.fixes import DeviceFix
from location_fusion.gazetteer import Gazetteer
from location_fusion.geo import DEG_M
from location_fusion.speech import (
    add_speech_noise,
    phrase_for_intersection,
    phrase_for_place,
    phrase_for_street,
)
from location_fusion.synthetic_cells import ServingModel
from routing.network import RoadNetwork


@dataclass(frozen=True)
class ScenarioMix:
    """Shares of sky conditions and of the other evidence; the default is the evaluated mix."""

    good_sky: float = 0.55
    urban_canyon: float = 0.30
    indoor: float = 0.15
    canyon_wifi_p: float = 0.5
    indoor_wifi_p: float = 0.6
    second_fix_p: float = 0.5
    cell_p: float = 0.97
    speech_p: float = 0.9
    wrong_street_p: float = 0.05
    noise_level: float = 1.0
    off_road_m: float = 15.0


@dataclass(frozen=True)
class Intent:
    """What the caller meant to say: kind and the canonical names (for scoring)."""

    kind: str  # "intersection" | "street" | "place"
    names: tuple[str, ...]
    wrong: bool  # a wrong street was said


@dataclass(frozen=True)
class Call:
    """One synthetic call and its truth."""

    true_lat: float
    true_lon: float
    sky: str
    fixes: tuple[DeviceFix, ...]
    cell: CellObservation | None
    spoken: str | None
    intent: Intent | None
    now_s: float


class CallMaker:
    """Makes synthetic calls for one network, gazetteer, cell layout and hospital list."""

    def __init__(
        self,
        net: RoadNetwork,
        gazetteer: Gazetteer,
        cells: list[Cell],
        places: list[tuple[str, float, float]],
        mix: ScenarioMix | None = None,
    ) -> None:
        self.net = net
        self.gazetteer = gazetteer
        self.serving = ServingModel(cells)
        self.places = places
        self.mix = mix or ScenarioMix()
        self.streets = gazetteer.street_names()
        named = np.nonzero(net.edge_name >= 0)[0]
        self._edges = named if named.size else np.arange(net.n_edges)

    def make(self, rng: np.random.Generator) -> Call:
        lat, lon = self._true_spot(rng)
        shares = _norm([self.mix.good_sky, self.mix.urban_canyon, self.mix.indoor])
        sky = str(rng.choice(["good", "canyon", "indoor"], p=shares))
        now_s = 40.0
        fixes = self._fixes(lat, lon, sky, rng, now_s)
        cell = None
        if rng.random() < self.mix.cell_p:
            cell = self.serving.observe(lon, lat, rng, 0.1, now_s)
        spoken, intent = (None, None)
        if rng.random() < self.mix.speech_p:
            spoken, intent = self._words(lat, lon, rng)
        return Call(lat, lon, sky, tuple(fixes), cell, spoken, intent, now_s)

    def _true_spot(self, rng: np.random.Generator) -> tuple[float, float]:
        """A point along a random named road, up to off_road_m to its side."""
        net = self.net
        e = int(rng.choice(self._edges))
        a, b = net.node_lonlat[net.edge_tail[e]], net.node_lonlat[net.edge_head[e]]
        p = a + rng.random() * (b - a)
        ang = rng.uniform(0, 2 * math.pi)
        off = rng.uniform(0, self.mix.off_road_m)
        kx = DEG_M * math.cos(math.radians(float(p[1])))
        return float(p[1] + off * math.sin(ang) / DEG_M), float(p[0] + off * math.cos(ang) / kx)

    def _fixes(
        self, lat: float, lon: float, sky: str, rng: np.random.Generator, now_s: float
    ) -> list[DeviceFix]:
        out = []
        times = [now_s - rng.uniform(20, 40)]
        if rng.random() < self.mix.second_fix_p:
            times.append(now_s - rng.uniform(0, 10))
        bias_dir = rng.uniform(0, 2 * math.pi)
        bias_m = rng.uniform(100, 300)
        for t in times:
            if sky == "good":
                out.append(_honest(lat, lon, rng.uniform(3, 12), "gnss", t, rng))
            elif sky == "canyon":
                stated = rng.uniform(8, 25)
                d = bias_m * rng.uniform(0.85, 1.15)
                ang = bias_dir + rng.normal(0, 0.2)
                blat, blon = _offset(lat, lon, d * math.cos(ang), d * math.sin(ang))
                out.append(_honest(blat, blon, stated, "gnss", t, rng))
                if rng.random() < self.mix.canyon_wifi_p:
                    out.append(_honest(lat, lon, rng.uniform(15, 40), "wifi", t, rng))
            elif rng.random() < self.mix.indoor_wifi_p:
                out.append(_honest(lat, lon, rng.uniform(15, 50), "wifi", t, rng))
        return out

    def _words(self, lat: float, lon: float, rng: np.random.Generator) -> tuple[str, Intent]:
        junction = self.gazetteer.nearest_intersection(lon, lat)
        street = self.gazetteer.nearest_street(lon, lat)
        hospital = min(
            self.places,
            key=lambda p: math.hypot(p[1] - lat, (p[2] - lon) * math.cos(math.radians(lat))),
            default=None,
        )
        wrong = rng.random() < self.mix.wrong_street_p
        if junction is not None and junction[4] <= 60:
            a, b = junction[0], junction[1]
            if wrong:
                b = self._other(rng, {a, b})
            text = phrase_for_intersection(a, b, rng)
            intent = Intent("intersection", (a, b), wrong)
        elif hospital is not None and _dist_m(lat, lon, hospital[1], hospital[2]) < 250:
            text = phrase_for_place(hospital[0], street[0] if street else None, rng)
            intent = Intent("place", (hospital[0],), False)
        else:
            name = street[0] if street else self._other(rng, set())
            if wrong:
                name = self._other(rng, {name})
            text = phrase_for_street(name, rng)
            intent = Intent("street", (name,), wrong)
        return add_speech_noise(text, rng, self.mix.noise_level), intent

    def _other(self, rng: np.random.Generator, avoid: set[str]) -> str:
        while True:
            name = str(self.streets[int(rng.integers(0, len(self.streets)))])
            if name not in avoid:
                return name


def _norm(p: list[float]) -> list[float]:
    s = sum(p)
    return [x / s for x in p]


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    kx = DEG_M * math.cos(math.radians(lat))
    return lat + north_m / DEG_M, lon + east_m / kx


def _dist_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    kx = DEG_M * math.cos(math.radians(lat1))
    return math.hypot((lat2 - lat1) * DEG_M, (lon2 - lon1) * kx)


def _honest(
    lat: float, lon: float, acc68_m: float, source: str, t: float, rng: np.random.Generator
) -> DeviceFix:
    """A fix whose error really follows its stated 68 % accuracy (sigma = r68 / 1.515)."""
    sigma = acc68_m / math.sqrt(-2 * math.log(1 - 0.68))
    flat, flon = _offset(lat, lon, rng.normal(0, sigma), rng.normal(0, sigma))
    return DeviceFix(flat, flon, float(acc68_m), 0.68, source, float(t))
