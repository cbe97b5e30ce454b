"""SYNTHETIC calls for evaluating fusion: true spots, handset fixes, serving cells, words, and
what was planted in each.

Everything here is made up, seeded and labelled so. A call's true spot is on or near a road of
the bundled city; its handset fixes follow a mixture of sky conditions:

- good sky: GNSS with an honest 3-12 m (68 %) accuracy;
- urban canyon: GNSS biased 100-300 m by multipath while claiming 8-25 m, and half the time
  a Wi-Fi fix beside it (honest, 15-40 m), as Android's network location gives in a city;
- indoor: no GNSS; a Wi-Fi fix (15-50 m) in 60 % of calls, otherwise no fix at all.

Half the calls carry a second, newer fix. The serving sector comes from the synthetic cell
layout; the words name the nearest intersection (within 60 m) or street or hospital, in the
ways people say them, with speech-recognition noise, and now and then a wrong street.
`ScenarioMix` sets every share and range; `location_fusion.eval_settings` names the settings
(stale fixes, wrong claimed accuracy, GCJ-02 input, speech errors, a heavy tail, an
independent mix). Every source's true error and how it was made wrong is recorded in
`Call.planted` (`location_fusion.planted`): the evaluation's only truth about conflicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from location_fusion.cells import Cell, CellObservation, sector_for
from location_fusion.crs import to_wgs84, wgs84_to_gcj02
from location_fusion.fixes import DeviceFix
from location_fusion.gazetteer import Gazetteer
from location_fusion.geo import DEG_M
from location_fusion.planted import PlantedSource, StreetLines, distance_m
from location_fusion.scenario_words import Words, WordsMaker
from location_fusion.synthetic_cells import ServingModel
from routing.network import RoadNetwork

Range = tuple[float, float]


@dataclass(frozen=True)
class ScenarioMix:
    """Shares of sky conditions and of the other evidence, and how sources are made wrong.

    The defaults are the project's evaluation mix (`baseline`), the one the fusion was tuned
    on. Ranges are drawn uniformly; `canyon_bias_lognormal` (median m, log sigma), when set,
    replaces the uniform canyon bias with a heavier tail.
    """

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
    good_acc_m: Range = (3.0, 12.0)  # good-sky GNSS, honest 68 % claims
    canyon_claim_m: Range = (8.0, 25.0)  # what a multipath-biased fix claims
    canyon_bias_m: Range = (100.0, 300.0)
    canyon_bias_lognormal: Range | None = None
    wifi_acc_m: Range = (15.0, 45.0)
    cell_neighbor_p: float = 0.1  # the handset still on the runner-up site's cell
    stale_fix_p: float = 0.0  # an old GNSS fix from where the caller was minutes ago
    stale_age_s: Range = (180.0, 600.0)
    stale_moved_m: Range = (0.0, 1200.0)
    stale_alone_p: float = 0.5  # ...and no fresh GNSS fix beside it (lost indoors)
    wrong_claim_p: float = 0.0  # the handset's claims are 3x too small or 3x too large
    gcj02_p: float = 0.0  # fixes reported in GCJ-02 (a map SDK), converted at the boundary
    gcj02_unlabelled_p: float = 0.0  # ...of those, sent as "wgs84": never converted
    far_cell_p: float = 0.0  # the carrier reports a cell 1.5-4 km away
    misheard_p: float = 0.0  # the recogniser writes another real street's name
    partial_name_p: float = 0.0  # the street said without suffix or direction

    def __post_init__(self) -> None:
        shares = (self.good_sky, self.urban_canyon, self.indoor)
        if min(shares) < 0 or sum(shares) <= 0:
            raise ValueError("sky shares must be >= 0 and not all 0")
        probs = (
            self.canyon_wifi_p,
            self.indoor_wifi_p,
            self.second_fix_p,
            self.cell_p,
            self.speech_p,
            self.cell_neighbor_p,
            self.stale_fix_p,
            self.stale_alone_p,
            self.wrong_claim_p,
            self.gcj02_p,
            self.gcj02_unlabelled_p,
            self.far_cell_p,
        )
        if not all(0 <= p <= 1 for p in probs):
            raise ValueError("every *_p must be a probability")
        if self.wrong_street_p + self.misheard_p + self.partial_name_p > 1:
            raise ValueError("speech error shares add up to more than 1")


@dataclass(frozen=True)
class Intent:
    """What the caller meant to say: kind and the canonical names (for scoring)."""

    kind: str  # "intersection" | "street" | "place"
    names: tuple[str, ...]
    wrong: bool  # the words name somewhere else (wrong or misheard street, wrong junction)


@dataclass(frozen=True)
class Call:
    """One synthetic call and its truth. `fixes` are as the handset sent them, each in the
    CRS named at the same index of `crs`; `planted` lists the sources in the order fixes,
    cell, words."""

    true_lat: float
    true_lon: float
    sky: str
    fixes: tuple[DeviceFix, ...]
    cell: CellObservation | None
    spoken: str | None
    intent: Intent | None
    now_s: float
    planted: tuple[PlantedSource, ...] = ()
    crs: tuple[str, ...] = ()

    def wgs84_fixes(self) -> tuple[DeviceFix, ...]:
        """The fixes as the server's boundary passes them on: converted to WGS-84."""
        out = []
        for i, f in enumerate(self.fixes):
            crs = self.crs[i] if i < len(self.crs) else "wgs84"
            if crs == "wgs84":
                out.append(f)
                continue
            lat, lon = to_wgs84(f.lat, f.lon, crs)
            out.append(DeviceFix(lat, lon, f.accuracy_m, f.confidence, f.source, f.observed_at_s))
        return tuple(out)


class CallMaker:
    """Makes synthetic calls for one network, gazetteer, cell layout and hospital list."""

    def __init__(
        self,
        net: RoadNetwork,
        gazetteer: Gazetteer,
        cells: list[Cell],
        places: list[tuple[str, float, float]],
        mix: ScenarioMix | None = None,
        lines: StreetLines | None = None,
    ) -> None:
        self.net = net
        self.gazetteer = gazetteer
        self.cells = cells
        self.serving = ServingModel(cells)
        self._by_key = {c.key: c for c in cells}
        self.places = places
        self.mix = mix or ScenarioMix()
        self.lines = lines or StreetLines(net)
        self.words = WordsMaker(net, gazetteer, places, self.lines)
        named = np.nonzero(net.edge_name >= 0)[0]
        self._edges = named if named.size else np.arange(net.n_edges)

    def with_mix(self, mix: ScenarioMix) -> CallMaker:
        """The same world (network, cells, street lines) with another mix."""
        return CallMaker(self.net, self.gazetteer, self.cells, self.places, mix, self.lines)

    def make(self, rng: np.random.Generator) -> Call:
        lat, lon = self._true_spot(rng)
        m = self.mix
        sky = str(rng.choice(["good", "canyon", "indoor"], p=_norm(m)))
        now_s = 40.0
        fixes, crs, planted = self._fixes(lat, lon, sky, rng, now_s)
        cell = None
        if rng.random() < m.cell_p:
            cell, plant = self._cell(lat, lon, rng, now_s)
            planted.append(PlantedSource("cell", self._cell_error_m(cell, lat, lon), plant))
        spoken, intent = (None, None)
        if rng.random() < m.speech_p:
            w: Words = self.words.make(lat, lon, rng, m)
            spoken, intent = w.text, Intent(w.kind, w.names, w.wrong)
            planted.append(PlantedSource("speech", w.error_m, w.plant))
        return Call(
            lat, lon, sky, tuple(fixes), cell, spoken, intent, now_s, tuple(planted), tuple(crs)
        )

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
    ) -> tuple[list[DeviceFix], list[str], list[PlantedSource]]:
        """The handset's fixes, their CRS and what was planted in each, oldest first."""
        m = self.mix
        made: list[tuple[DeviceFix, str]] = []  # (fix at its true reported spot, plant)
        times = [now_s - rng.uniform(20, 40)]
        if rng.random() < m.second_fix_p:
            times.append(now_s - rng.uniform(0, 10))
        bias_dir = rng.uniform(0, 2 * math.pi)
        if m.canyon_bias_lognormal is not None:
            median, spread = m.canyon_bias_lognormal
            bias_m = float(median * math.exp(rng.normal(0, spread)))
        else:
            bias_m = rng.uniform(*m.canyon_bias_m)
        claim = 1.0
        if rng.random() < m.wrong_claim_p:
            claim = 3.0 if rng.random() < 0.5 else 1 / 3
        for t in times:
            if sky == "good":
                made.append(_honest(lat, lon, rng.uniform(*m.good_acc_m), "gnss", t, rng, claim))
            elif sky == "canyon":
                stated = rng.uniform(*m.canyon_claim_m)
                d = bias_m * rng.uniform(0.85, 1.15)
                ang = bias_dir + rng.normal(0, 0.2)
                blat, blon = _offset(lat, lon, d * math.cos(ang), d * math.sin(ang))
                made.append((_honest(blat, blon, stated, "gnss", t, rng)[0], "canyon"))
                if rng.random() < m.canyon_wifi_p:
                    made.append(_honest(lat, lon, rng.uniform(*m.wifi_acc_m), "wifi", t, rng))
            elif rng.random() < m.indoor_wifi_p:
                made.append(_honest(lat, lon, rng.uniform(*m.wifi_acc_m), "wifi", t, rng))
        if rng.random() < m.stale_fix_p:
            if rng.random() < m.stale_alone_p:
                made = [fp for fp in made if fp[0].source != "gnss"]
            moved = rng.uniform(*m.stale_moved_m)
            ang = rng.uniform(0, 2 * math.pi)
            olat, olon = _offset(lat, lon, moved * math.cos(ang), moved * math.sin(ang))
            age = rng.uniform(*m.stale_age_s)
            old = _honest(olat, olon, rng.uniform(*m.good_acc_m), "gnss", now_s - age, rng)[0]
            made.insert(0, (old, "stale"))
        gcj = rng.random() < m.gcj02_p
        unlabelled = gcj and rng.random() < m.gcj02_unlabelled_p
        fixes, crs, planted = [], [], []
        for f, plant in made:
            if gcj:
                glat, glon = wgs84_to_gcj02(f.lat, f.lon)
                f = DeviceFix(glat, glon, f.accuracy_m, f.confidence, f.source, f.observed_at_s)
                plant = plant or ("gcj02_unlabelled" if unlabelled else "")
            c = "gcj02" if gcj and not unlabelled else "wgs84"
            ulat, ulon = to_wgs84(f.lat, f.lon, c)  # where the server will put it
            fixes.append(f)
            crs.append(c)
            planted.append(PlantedSource(f.source, distance_m(lat, lon, ulat, ulon), plant))
        return fixes, crs, planted

    def _cell(
        self, lat: float, lon: float, rng: np.random.Generator, now_s: float
    ) -> tuple[CellObservation, str]:
        """The serving cell the carrier reports, and its plant ("far_cell", "neighbor_cell"
        or "")."""
        if rng.random() < self.mix.far_cell_p:
            far = [c for c in self.cells if 1500 <= distance_m(lat, lon, c.lat, c.lon) <= 4000]
            if far:
                c = far[int(rng.integers(len(far)))]
                obs = CellObservation(c.mcc, c.mnc, c.area, c.cell, c.radio, None, now_s)
                return obs, "far_cell"
        neighbor = rng.random() < self.mix.cell_neighbor_p
        obs = self.serving.observe(lon, lat, rng, 1.0 if neighbor else 0.0, now_s)
        return obs, "neighbor_cell" if neighbor else ""

    def _cell_error_m(self, obs: CellObservation, lat: float, lon: float) -> float:
        """Metres from the true spot to the reported cell's wedge (0 inside)."""
        cell = self._by_key.get(obs.key)
        if cell is None:
            return math.inf
        return float(sector_for(cell, obs).distance_m(lon, lat))


def _norm(m: ScenarioMix) -> list[float]:
    p = [m.good_sky, m.urban_canyon, m.indoor]
    s = sum(p)
    return [x / s for x in p]


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    kx = DEG_M * math.cos(math.radians(lat))
    return lat + north_m / DEG_M, lon + east_m / kx


def _honest(
    lat: float,
    lon: float,
    acc68_m: float,
    source: str,
    t: float,
    rng: np.random.Generator,
    claim: float = 1.0,
) -> tuple[DeviceFix, str]:
    """A fix whose error follows the true 68 % accuracy (sigma = r68 / 1.515); it claims
    `claim` times that ("claim_low"/"claim_high" when not 1)."""
    sigma = acc68_m / math.sqrt(-2 * math.log(1 - 0.68))
    flat, flon = _offset(lat, lon, rng.normal(0, sigma), rng.normal(0, sigma))
    plant = "" if claim == 1.0 else ("claim_low" if claim < 1 else "claim_high")
    return DeviceFix(flat, flon, float(acc68_m * claim), 0.68, source, float(t)), plant
