"""The gazetteer: streets, intersections and named places of a road network, found from words.

A caller says where they are ("文三路和学院路口", "莫干山路上，靠近省人民医院", "wen san lu he
xue yuan lu"); `Gazetteer.geocode` turns the words into candidate places with a confidence.
Speech recognition confuses characters that sound alike, so matching happens on tone-less
pinyin with the usual fuzzy pairs folded together (z/zh, c/ch, s/sh, n/l, an/ang, en/eng,
in/ing): "文山路" reads like 文三路. Filler words are dropped first. Each name is spotted in the
phrase through an index of its syllable pairs (adjacent, and one apart, so one wrong, missing
or extra syllable still finds it), then scored with rapidfuzz on its pinyin letters (85 %) and
its characters (15 %, which breaks ties between names that sound the same). A name said
without its 路/街 ("文三") counts, slightly less sure. Two streets spotted make an intersection,
a street and a place make "the street near the place", one alone is itself (its corridor:
location_fusion.corridor); the names close to the best at one spot come back too, so an
ambiguous phrase gives several candidates.

Places are the city's places layer (location_fusion.places: POIs, 小区, landmarks, house
numbers, each with its radius); a house number the layer does not list is placed by the
numbers it lists on that street. A relative phrase ("X对面", "X往东走一点", "between X and Y":
location_fusion.phrases) is geocoded anchor by anchor and moved or widened
(location_fusion.relative), never read as a junction.

Street names are canonical: an English tail and a parenthesised part are cut off
("文一西路 Wenyi Road (West)" is 文一西路, "丰登街(沁园路)" is 丰登街, with 沁园路 as an alias).
Distances use a local metric frame (`geo.LocalFrame`); streets are sampled every SAMPLE_STEP_M,
so a distance to a street is exact to within half a step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz
from scipy.spatial import cKDTree

from location_fusion.candidate import KINDS as KINDS  # re-exported
from location_fusion.candidate import Place as Place  # re-exported: callers import it here
from location_fusion.corridor import STREET_HALF_WIDTH_M, covering_centre
from location_fusion.errors import MAX_TEXT_CHARS, InvalidInput, TextTooLong
from location_fusion.geo import LocalFrame, check_lat_lon, haversine_m
from location_fusion.phrases import parse_relation
from location_fusion.places import (
    NamedPlace,
    house_number,
    locate_number,
    merge_places,
    named_place,
    read_places_csv,
)
from location_fusion.readback import ZH_CN, ReadBack
from location_fusion.relative import apply_relation
from location_fusion.spoken_text import (
    GENERIC_SYLLABLES,
    SUFFIXES,
    canonical_street,
    filler_pattern,
    normalise_phrase,
    place_aliases,
    readings,
    tokenize,
)
from routing.network import RoadNetwork

F64 = NDArray[np.float64]

SAMPLE_STEP_M = 10.0  # spacing of the points sampled along every street
INTERSECTION_RADIUS_M = 65.0  # people name the junction they stand near, often 50 m off it
NEAR_PLACE_RADIUS_M = 150.0  # "on street S near place P"
JUNCTION_CLUSTER_M = 150.0  # junction nodes of one street pair closer than this are one junction
CLOSE_STREETS_M = 120.0  # two streets said together that never meet: use their closest approach
MIN_SCORE = 0.72  # a spotted name scoring below this is noise
ALT_MARGIN = 0.15  # names within this of the best at one spot are alternatives (ambiguity)
STRIPPED_FACTOR = 0.9  # "文三" for 文三路: right, but slightly less certain
CHAR_WEIGHT = 0.15  # share of the character match in a score (pinyin takes the rest)


@dataclass(frozen=True)
class _Street:
    name: str
    line_lonlat: F64  # (p, 2) points every <= SAMPLE_STEP_M along all its edges
    line_xy_m: F64
    lon: float
    lat: float
    radius_m: float
    length_m: float
    tree: cKDTree  # over line_xy_m


@dataclass(frozen=True)
class _Variant:
    """One way to say a name, as the index finds and scores it."""

    name: str  # canonical street or place
    kind: str  # "street" | "place"
    letters: str  # fuzzy pinyin letters, no spaces
    chars: str  # the characters said
    factor: float  # 1, or STRIPPED_FACTOR without the generic suffix
    n_syllables: int


@dataclass(frozen=True)
class _Match:
    name: str  # canonical street or place name
    kind: str  # "street" | "place"
    score: float
    start: int  # token span [start, end) of the phrase
    end: int


def _sample_segments(a_xy: F64, b_xy: F64) -> tuple[F64, NDArray[np.intp]]:
    """Points every <= SAMPLE_STEP_M along segments a->b (both ends included); segment index."""
    seg_len = np.hypot(*(b_xy - a_xy).T)
    n = np.maximum(1, np.ceil(seg_len / SAMPLE_STEP_M).astype(np.intp)) + 1
    seg = np.repeat(np.arange(len(n)), n)
    first = np.repeat(np.cumsum(n) - n, n)
    t = ((np.arange(seg.shape[0]) - first) / (n[seg] - 1))[:, None]
    return a_xy[seg] + t * (b_xy[seg] - a_xy[seg]), seg


class Gazetteer:
    """Names of a road network (streets, intersections, places) and where they are."""

    def __init__(
        self,
        net: RoadNetwork,
        places: Iterable[NamedPlace | tuple[str, float, float]] = (),
        readback: ReadBack = ZH_CN,
    ) -> None:
        self.readback = readback  # the locale's words around names (location_fusion.readback)
        ll = net.node_lonlat
        center = ll.mean(axis=0) if len(ll) else np.zeros(2)
        self._frame = LocalFrame(float(center[0]), float(center[1]))
        self._build_streets(net)
        self._build_junctions(net)
        self._places = merge_places(named_place(p) for p in places)
        # street -> [(house number, place)] of the addresses the places layer lists
        self._numbers: dict[str, list[tuple[int, NamedPlace]]] = {}
        for p in self._places.values():
            said = house_number(p.name) if p.kind == "address" else None
            if said is not None:
                self._numbers.setdefault(canonical_street(said[0]), []).append((said[1], p))
        self._build_index()
        self._approach: dict[tuple[str, str], tuple[float, float, float] | None] = {}

    @classmethod
    def from_network(
        cls,
        net: RoadNetwork,
        places: Iterable[NamedPlace | tuple[str, float, float]] = (),
        readback: ReadBack = ZH_CN,
    ) -> Gazetteer:
        """Build the gazetteer of `net`, with named places (a places layer's rows, or bare
        (name, lat, lon) taken as hospitals: location_fusion.places)."""
        return cls(net, places, readback)

    @classmethod
    def load_places_csv(cls, path: str | Path) -> list[NamedPlace]:
        """Every named row of a places CSV (`name` or `name_zh`, lat, lon, optional kind,
        radius_m, approximate: location_fusion.places); the only I/O here."""
        return read_places_csv(path)

    # -- building ------------------------------------------------------------------------------

    def _build_streets(self, net: RoadNetwork) -> None:
        canon = [canonical_street(str(n)) for n in net.names]
        self._aliases: dict[str, str] = {}  # spoken alias -> canonical street
        for raw, c in zip(net.names, canon, strict=True):
            inner = [canonical_street(p) for p in re.findall(r"[(（]([^)）]*)[)）]", str(raw))]
            self._aliases.update({p: c for p in inner if p and p[-1] in SUFFIXES and c})
        used = np.unique(net.edge_name[net.edge_name >= 0])
        self._names = sorted({canon[k] for k in used if canon[k]})
        sid = {n: i for i, n in enumerate(self._names)}
        name_of_idx = np.array([sid.get(c, -1) for c in canon] + [-1], dtype=np.intp)
        self._edge_street = name_of_idx[net.edge_name]  # edge_name -1 picks the trailing -1
        keep = (self._edge_street >= 0) & ((net.twin < 0) | (np.arange(net.n_edges) < net.twin))
        simple = keep & (np.diff(net.geom_indptr) == 0)
        ends = net.node_lonlat[net.edge_tail[simple]], net.node_lonlat[net.edge_head[simple]]
        a_parts, b_parts = [ends[0]], [ends[1]]
        owner = [self._edge_street[simple]]
        for e in np.nonzero(keep & ~simple)[0]:  # curved edges (none in the bundled CSVs)
            line = net.edge_lonlat(int(e))
            a_parts.append(line[:-1])
            b_parts.append(line[1:])
            owner.append(np.full(len(line) - 1, self._edge_street[e]))
        self._streets: dict[str, _Street] = {}
        a_ll, b_ll = np.vstack(a_parts), np.vstack(b_parts)
        if not len(a_ll):
            self._tree: cKDTree | None = None
            self._sample_street = np.zeros(0, dtype=np.intp)
            return
        pts, seg = _sample_segments(self._xy(a_ll), self._xy(b_ll))
        street_of = np.concatenate(owner)[seg]
        order = np.argsort(street_of, kind="stable")
        pts, street_of = pts[order], street_of[order]
        pts.flags.writeable = False  # handed out in Place.line_lonlat views: keep them frozen
        self._tree = cKDTree(pts)
        self._sample_street = street_of
        bounds = np.searchsorted(street_of, np.arange(len(self._names) + 1))
        for i, name in enumerate(self._names):
            xy = pts[bounds[i] : bounds[i + 1]]
            lon, lat = self._frame.to_lonlat(xy[:, 0], xy[:, 1])
            line = np.column_stack([lon, lat])
            line.flags.writeable = False
            centre, far_m = covering_centre(xy)  # radius: the whole corridor, not a guess
            length = float(net.length_m[self._edge_street == i].sum())
            self._streets[name] = _Street(
                name,
                line,
                xy,
                float(lon[centre]),
                float(lat[centre]),
                far_m + STREET_HALF_WIDTH_M,
                length,
                cKDTree(xy),
            )

    def _build_junctions(self, net: RoadNetwork) -> None:
        named = self._edge_street >= 0
        node = np.concatenate([net.edge_tail[named], net.edge_head[named]]).astype(np.int64)
        street = np.tile(self._edge_street[named], 2).astype(np.int64)
        pairs = np.unique(node * (len(self._names) + 1) + street)
        node, street = pairs // (len(self._names) + 1), pairs % (len(self._names) + 1)
        starts = np.nonzero(np.r_[True, node[1:] != node[:-1]])[0]
        ends = np.r_[starts[1:], len(node)]
        by_pair: dict[tuple[str, str], list[int]] = {}
        jn_nodes, jn_pairs = [], []
        for s, t in zip(starts, ends, strict=True):
            if t - s < 2:
                continue
            names = sorted(
                (self._names[int(k)] for k in street[s:t]),
                key=lambda n: -self._streets[n].length_m,
            )
            for i, a in enumerate(names):
                for b in names[i + 1 :]:
                    by_pair.setdefault((min(a, b), max(a, b)), []).append(int(node[s]))
            jn_nodes.append(int(node[s]))
            jn_pairs.append((names[0], names[1]))
        self._junctions: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
        for key, nodes in by_pair.items():
            self._junctions[key] = self._cluster(net.node_lonlat[nodes])
        self._jn_pairs = jn_pairs
        self._jn_lonlat = net.node_lonlat[jn_nodes] if jn_nodes else np.zeros((0, 2))
        self._jn_tree = cKDTree(self._xy(self._jn_lonlat)) if jn_nodes else None

    def _xy(self, lonlat: F64) -> F64:
        x, y = self._frame.to_xy(lonlat[:, 0], lonlat[:, 1])
        return np.column_stack([x, y])

    def _cluster(self, lonlat: F64) -> list[tuple[float, float, int]]:
        """Junction nodes of one street pair grouped when closer than JUNCTION_CLUSTER_M."""
        xy = self._xy(lonlat)
        label = list(range(len(xy)))
        for i in range(len(xy)):  # single linkage; a pair rarely has more than a few nodes
            for j in range(i):
                if np.hypot(*(xy[i] - xy[j])) <= JUNCTION_CLUSTER_M:
                    old, new = label[i], label[j]
                    label = [new if lab == old else lab for lab in label]
        out = []
        for lab in sorted(set(label), key=label.index):
            members = lonlat[[k for k, v in enumerate(label) if v == lab]]
            out.append((float(members[:, 0].mean()), float(members[:, 1].mean()), len(members)))
        return sorted(out, key=lambda c: -c[2])

    def _build_index(self) -> None:
        spoken: list[tuple[str, str, str]] = [(n, n, "street") for n in self._names]
        spoken += [(a, c, "street") for a, c in self._aliases.items() if a not in self._streets]
        spoken += [(a, p, "place") for p in self._places for a in place_aliases(p)]
        self._v: list[_Variant] = []
        # (syllable, syllable k later, k) -> [(variant, position of the first)], k = 1 or 2:
        # a phrase is searched by its own pairs, so one wrong, missing or extra syllable
        # between two right ones still finds the name.
        self._index: dict[tuple[str, str, int], list[tuple[int, int]]] = {}
        seen: set[tuple[str, tuple[str, ...]]] = set()
        for said, canon, kind in spoken:
            forms = [(said, 1.0)]
            if kind == "street" and said[-1] in SUFFIXES and len(said) >= 3:
                forms.append((said[:-2] if said.endswith("大道") else said[:-1], STRIPPED_FACTOR))
            for text, factor in forms:
                for syl in readings(text):
                    if (canon, syl) in seen or not syl:
                        continue
                    seen.add((canon, syl))
                    v = len(self._v)
                    self._v.append(_Variant(canon, kind, "".join(syl), text, factor, len(syl)))
                    keys = [
                        ((syl[j], syl[j + k], k), j) for k in (1, 2) for j in range(len(syl) - k)
                    ]
                    specific = [kj for kj in keys if not GENERIC_SYLLABLES.intersection(kj[0][:2])]
                    for key, j in specific or [kj for kj in keys if kj[0][2] == 1]:
                        self._index.setdefault(key, []).append((v, j))
        self._fillers = filler_pattern(s for s, _, _ in spoken)

    # -- queries -------------------------------------------------------------------------------

    def street_names(self) -> list[str]:
        """Every canonical street name, sorted."""
        return list(self._names)

    def nearest_street(self, lon: float, lat: float) -> tuple[str, float] | None:
        """(name, distance_m) of the named street nearest (lon, lat); None without streets."""
        check_lat_lon(lat, lon)
        if self._tree is None:
            return None
        dist, k = self._tree.query(self._xy(np.array([[lon, lat]]))[0])
        return self._names[int(self._sample_street[int(k)])], float(dist)

    def nearest_intersection(
        self, lon: float, lat: float
    ) -> tuple[str, str, float, float, float] | None:
        """(street_a, street_b, lon, lat, distance_m) of the nearest junction of two names."""
        check_lat_lon(lat, lon)
        if self._jn_tree is None:
            return None
        _, k = self._jn_tree.query(self._xy(np.array([[lon, lat]]))[0])
        a, b = self._jn_pairs[int(k)]
        j_lon, j_lat = (float(v) for v in self._jn_lonlat[int(k)])
        return a, b, j_lon, j_lat, float(haversine_m(lon, lat, j_lon, j_lat))

    def geocode(self, text: str, limit: int = 5) -> list[Place]:
        """Candidate places for a spoken location, best first; [] when nothing matches.

        A relative phrase ("X对面", "X往东走一点", "between X and Y": location_fusion.phrases)
        is the anchor's candidates moved or widened (location_fusion.relative), never a
        junction of X with a street the caller did not say; when its anchor matches nothing,
        the whole phrase is read as if it were not relative.
        """
        if not isinstance(text, str):
            raise InvalidInput(f"text must be a str, got {type(text).__name__}")
        if len(text) > MAX_TEXT_CHARS:
            raise TextTooLong(f"text has {len(text)} characters, the limit is {MAX_TEXT_CHARS}")
        if limit < 1:
            raise InvalidInput(f"limit must be >= 1, got {limit!r}")
        relation = parse_relation(text)
        out: list[Place] = []
        if relation is not None:
            anchors = [self._plain(anchor) for anchor in relation.anchors]
            out = apply_relation(relation, anchors, self.readback)
        if not out:
            out = self._plain(text)
        out.sort(key=lambda p: -p.confidence)
        return out[:limit]

    def _plain(self, text: str) -> list[Place]:
        """Candidates for a phrase naming a place directly (not relative), best first."""
        clean = normalise_phrase(text, self._fillers)
        groups = self._groups(self._spot(tokenize(clean)))
        streets = [alts for _, alts in sorted(g for g in groups[:3] if g[1][0][1] == "street")][:2]
        if len(streets) == 2:  # the first street heard again in a second spot is not a
            first = streets[0][0][0]  # second street ("石祥西路往东": 石祥西路 overlaps 往东)
            streets = [streets[0], [alt for alt in streets[1] if alt[0] != first]]
            streets = [alts for alts in streets if alts]
        places = [alts for _, alts in groups if alts[0][1] == "place"][:1]
        out: list[Place] = []
        if len(streets) == 2:
            out = self._intersections(streets[0], streets[1])
        elif streets and places:
            out = [
                self._near(s, p, (ss + ps) / 2) for s, _, ss in streets[0] for p, _, ps in places[0]
            ]
        elif streets:
            numbered = house_number(clean.strip())
            out = [self._number(s, score, numbered) for s, _, score in streets[0]]
        elif places:
            out = [self._place(p, score) for p, _, score in places[0]]
        out.sort(key=lambda p: -p.confidence)
        return out

    def _spot(self, tokens: list[tuple[str, str]]) -> list[_Match]:
        """Every name found in the phrase with its span and score (several per spot)."""
        syl = [s for _, s in tokens]
        n = len(syl)
        offset = [0]
        for s in syl:
            offset.append(offset[-1] + len(s))
        letters = "".join(syl)
        found: set[tuple[int, int]] = set()
        index = self._index
        for i in range(n - 1):
            for k in (1, 2):
                for gap in (1, 2):
                    if i + gap < n:
                        found.update(
                            (v, i - j) for v, j in index.get((syl[i], syl[i + gap], k), ())
                        )
        best: dict[tuple[str, int, int], _Match] = {}
        tried: set[tuple[int, int, int]] = set()
        for v, d in found:
            var = self._v[v]
            size = var.n_syllables
            for s0, s1 in (
                (d, d + size),
                (d, d + size - 1),
                (d, d + size + 1),
                (d - 1, d + size),
                (d + 1, d + size),
            ):
                s0, s1 = max(s0, 0), min(s1, n)
                if s1 <= s0 or (v, s0, s1) in tried:
                    continue
                tried.add((v, s0, s1))
                cutoff = 100.0 * MIN_SCORE / var.factor
                said = letters[offset[s0] : offset[s1]]
                score = fuzz.ratio(var.letters, said, score_cutoff=cutoff) / 100.0
                if score == 0.0:
                    continue
                chars = "".join(c for c, _ in tokens[s0:s1])
                if all(c for c, _ in tokens[s0:s1]):  # typed pinyin: no characters to compare
                    char_score = fuzz.ratio(var.chars, chars) / 100.0
                    score = (1 - CHAR_WEIGHT) * score + CHAR_WEIGHT * char_score
                score *= var.factor
                key = (var.name, s0, s1)
                if score >= MIN_SCORE and (key not in best or best[key].score < score):
                    best[key] = _Match(var.name, var.kind, score, s0, s1)
        return list(best.values())

    @staticmethod
    def _groups(matches: list[_Match]) -> list[tuple[int, list[tuple[str, str, float]]]]:
        """Spots of the phrase, best first: (start, [(name, kind, score)] alternatives)."""
        ranked = sorted(matches, key=lambda m: -(m.score + 0.005 * (m.end - m.start)))
        leaders: list[_Match] = []
        for m in ranked:
            if len(leaders) < 3 and all(m.end <= o.start or m.start >= o.end for o in leaders):
                leaders.append(m)
        groups = []
        for lead in leaders:
            alts: dict[str, float] = {}
            for m in ranked:
                overlap = min(m.end, lead.end) - max(m.start, lead.start)
                shorter = min(m.end - m.start, lead.end - lead.start)
                if (
                    m.kind == lead.kind
                    and overlap * 2 >= shorter
                    and m.score >= lead.score - ALT_MARGIN
                    and m.name not in alts
                ):
                    alts[m.name] = m.score
            groups.append((lead.start, [(k, lead.kind, s) for k, s in list(alts.items())[:4]]))
        return groups

    def _number(self, street: str, score: float, said: tuple[str, int] | None) -> Place:
        """A street, or the house number said on it placed by the numbers the places layer
        lists on that street (the street itself when it lists none near)."""
        known = self._numbers.get(street, []) if said is not None else []
        found = locate_number(said[1], known) if said is not None and known else None
        if said is None or found is None:
            return self._street(street, score)
        lon, lat, radius = found
        name = f"{street}{said[1]}号" if self.readback.locale == "zh-CN" else f"{said[1]} {street}"
        return Place("place", name, lon, lat, radius, min(score, 1.0), (street,))

    def _street(self, name: str, score: float) -> Place:
        st = self._streets[name]
        return Place(
            "street", name, st.lon, st.lat, st.radius_m, min(score, 1.0), (name,), st.line_lonlat
        )

    def _place(self, name: str, score: float) -> Place:
        p = self._places[name]
        return Place("place", name, p.lon, p.lat, p.radius_m, min(score, 1.0), ())

    def _near(self, street: str, place: str, score: float) -> Place:
        """The point of `street` nearest `place`; less sure the farther the street runs from it."""
        st, named = self._streets[street], self._places[place]
        lon, lat = named.lon, named.lat
        d = np.hypot(*(st.line_xy_m - self._xy(np.array([[lon, lat]]))).T)
        k = int(np.argmin(d))
        trust = min(1.0, 300.0 / max(float(d[k]), 1.0))  # 300 m: still "near"
        p_lon, p_lat = (float(v) for v in st.line_lonlat[k])
        return Place(
            "street_near_place",
            self.readback.street_near_place.format(street=street, place=place),
            p_lon,
            p_lat,
            NEAR_PLACE_RADIUS_M,
            min(score * max(trust, 0.5), 1.0),
            (street,),
        )

    def _intersections(
        self, first: list[tuple[str, str, float]], second: list[tuple[str, str, float]]
    ) -> list[Place]:
        """Junctions of every pair of alternatives; the streets themselves if none meet."""
        out: list[Place] = []
        for a, _, sa in first:
            for b, _, sb in second:
                if a == b:
                    continue
                score = (sa + sb) / 2
                clusters = self._junctions.get((min(a, b), max(a, b)), [])
                trust = 1.0 if len(clusters) == 1 else 0.85  # a pair that meets twice
                for lon, lat, _ in clusters:
                    out.append(
                        Place(
                            "intersection",
                            self.readback.junction.format(a=a, b=b),
                            lon,
                            lat,
                            INTERSECTION_RADIUS_M,
                            score * trust,
                            (a, b),
                        )
                    )
                if not clusters:
                    close = self._closest_approach(a, b)
                    if close is not None:
                        lon, lat, gap = close
                        trust = 1.0 - 0.3 * gap / CLOSE_STREETS_M  # linked by short unnamed ways
                        radius = INTERSECTION_RADIUS_M + gap
                        out.append(
                            Place(
                                "intersection",
                                self.readback.junction.format(a=a, b=b),
                                lon,
                                lat,
                                radius,
                                score * trust,
                                (a, b),
                            )
                        )
        if not out:
            out = [self._street(a, s * 0.6) for a, _, s in first]
            out += [self._street(b, s * 0.6) for b, _, s in second]
        return out

    def _closest_approach(self, a: str, b: str) -> tuple[float, float, float] | None:
        """Midpoint and gap of two streets that never share a node, if within CLOSE_STREETS_M."""
        key = (a, b)
        if key not in self._approach:
            if len(self._approach) >= 4096:  # bounded: a long-running server sees many pairs
                self._approach.clear()
            self._approach[key] = self._compute_approach(a, b)
        return self._approach[key]

    def _compute_approach(self, a: str, b: str) -> tuple[float, float, float] | None:
        sa, sb = self._streets[a], self._streets[b]
        lo = sb.line_xy_m.min(axis=0) - CLOSE_STREETS_M
        hi = sb.line_xy_m.max(axis=0) + CLOSE_STREETS_M
        inside = np.nonzero(np.all((sa.line_xy_m >= lo) & (sa.line_xy_m <= hi), axis=1))[0]
        if not len(inside):  # the usual case for a wrong alternative: streets far apart
            return None
        found = sb.tree.query(sa.line_xy_m[inside], distance_upper_bound=CLOSE_STREETS_M)
        gap, other = np.asarray(found[0], np.float64), np.asarray(found[1], np.intp)
        i = int(np.argmin(gap))
        if not np.isfinite(gap[i]):
            return None
        mid = (sa.line_lonlat[inside[i]] + sb.line_lonlat[int(other[i])]) / 2
        return float(mid[0]), float(mid[1]), float(gap[i])
