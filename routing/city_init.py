"""`jijiu city init DIR --osm FILE`: a city folder from an OpenStreetMap file.

Writes into DIR: the OSM file itself (`roads.osm…`), its compiled road network (`roads.npz`,
by `routing.load`, so the allow-list loader's summary comes with it), one CSV per layer the
file holds (`routing.osm_layers`: hospitals, ambulance stations, AEDs, named places), and a
`city.toml` naming them (`routing.city`). A layer the file does not hold gets no file and is
left out of city.toml: not configured, until a CSV in the documented layout (docs/city.md) is
put beside it and named there. The locale is guessed from the names (Chinese characters in
most of them: zh-CN, else en) unless given.
"""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from routing.city import CITY_FILE, LAYERS, read_city
from routing.errors import CityError
from routing.load import load_network
from routing.osm import FORMATS, osm_format
from routing.osm_layers import OsmLayers, OsmObject, read_osm_layers

HOSPITAL_COLUMNS = (
    "hospital_id", "name_zh", "name_en", "address_zh", "lat", "lon", "ed", "chest_pain_pci",
    "stroke_thrombectomy", "trauma", "pediatric", "obstetric", "burn", "ed_beds",
)  # fmt: skip
STATION_COLUMNS = ("station_id", "lat", "lon", "units", "als_units", "source")
AED_COLUMNS = (
    "id", "lat", "lon", "indoor", "level", "opening_hours", "access", "operator",
    "description", "defibrillator:location", "source",
)  # fmt: skip
PLACE_COLUMNS = ("name", "lat", "lon", "kind")
PLACEHOLDER_ED_BEDS = 10  # OSM has no bed counts: a placeholder to correct in hospitals.csv
STATION_UNITS = (2, 1)  # units, of which ALS, per OSM station (a placeholder, like the beds)
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class InitReport:
    """What `init_city` wrote: rows per layer (0: not configured) and the network summary."""

    folder: Path
    locale: str
    rows: dict[str, int]
    network_lines: tuple[str, ...]
    notes: tuple[str, ...]

    def lines(self) -> list[str]:
        out = [f"city folder  {self.folder} (locale {self.locale})"]
        out += [f"network      {line}" for line in self.network_lines]
        for name in LAYERS:
            n = self.rows.get(name, 0)
            out.append(f"{name:<12} {n} rows" if n else f"{name:<12} none: not configured")
        return out + list(self.notes)


def guess_locale(names: Iterable[str]) -> str:
    """zh-CN when most names hold Chinese characters, else en."""
    named = [n for n in names if n]
    cjk = sum(1 for n in named if _CJK.search(n))
    return "zh-CN" if named and cjk * 2 >= len(named) else "en"


def init_city(
    folder: Path,
    osm: Path,
    *,
    locale: str | None = None,
    timezone: str = "UTC",
    name: str | None = None,
    force: bool = False,
) -> InitReport:
    """Write the city folder (see the module docstring); CityError if it holds a city already
    (unless `force`), NetworkLoadError if the OSM file cannot be read."""
    if osm_format(osm) is None:
        raise CityError(f"{osm}: not an OSM file ({', '.join(FORMATS)})")
    if not osm.is_file():
        raise CityError(f"{osm}: no such file")
    if (folder / CITY_FILE).exists() and not force:
        raise CityError(f"{folder} already holds a {CITY_FILE} (--force to overwrite)")
    folder.mkdir(parents=True, exist_ok=True)
    suffix = next(end for end in FORMATS if osm.name.lower().endswith(end))
    source = folder / f"roads{suffix}"
    if osm.resolve() != source.resolve():
        shutil.copyfile(osm, source)
    net, report = load_network(source)
    net.save(folder / "roads.npz")
    found = read_osm_layers(source)
    names = [str(n) for n in net.names] + [o.tags.get("name", "") for o in found.places]
    locale = locale or guess_locale(names)
    rows = _write_layers(folder, found, locale)
    notes = []
    assumed = sum(1 for h in found.hospitals if h.tags.get("emergency") != "yes")
    if assumed:
        notes.append(
            f"note         {assumed} hospital(s) not tagged emergency=yes: assumed to have an "
            "ED; check hospitals.csv (capabilities and ed_beds are placeholders)"
        )
    _write_toml(folder, name or osm.name.split(".")[0], locale, timezone, source, rows)
    read_city(folder)  # what was written reads back
    summary = tuple(report.summary.lines()) if report.summary else ()
    return InitReport(folder, locale, rows, summary, tuple(notes))


def _write_layers(folder: Path, found: OsmLayers, locale: str) -> dict[str, int]:
    tables = {
        "hospitals": (HOSPITAL_COLUMNS, [_hospital(o) for o in found.hospitals]),
        "stations": (STATION_COLUMNS, [_station(o) for o in found.stations]),
        "aeds": (AED_COLUMNS, [_aed(o) for o in found.aeds]),
        "places": (PLACE_COLUMNS, _places(found.places, locale)),
    }
    rows = {}
    for layer, (columns, table) in tables.items():
        path = folder / f"{layer}.csv"
        path.unlink(missing_ok=True)  # a rerun with --force leaves no stale layer
        rows[layer] = len(table)
        if table:
            _write_csv(path, columns, table)
    return rows


def _write_csv(path: Path, columns: Sequence[str], table: list[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(table)


def _hospital(o: OsmObject) -> dict[str, object]:
    t = o.tags
    name = t.get("name", o.osm_id)
    street = " ".join(x for x in (t.get("addr:housenumber"), t.get("addr:street")) if x)
    return {
        **dict.fromkeys(HOSPITAL_COLUMNS, 0),
        "hospital_id": f"osm-{o.osm_id}",
        "name_zh": t.get("name:zh", name),
        "name_en": t.get("name:en", name),
        "address_zh": street,
        "lat": f"{o.lat:.6f}",
        "lon": f"{o.lon:.6f}",
        "ed": 1,
        "ed_beds": PLACEHOLDER_ED_BEDS,
    }


def _station(o: OsmObject) -> dict[str, object]:
    units, als = STATION_UNITS
    return {
        "station_id": f"osm-{o.osm_id}",
        "lat": f"{o.lat:.6f}",
        "lon": f"{o.lon:.6f}",
        "units": units,
        "als_units": als,
        "source": "osm",
    }


def _aed(o: OsmObject) -> dict[str, object]:
    row: dict[str, object] = {c: o.tags.get(c, "") for c in AED_COLUMNS}
    return {
        **row,
        "id": f"osm-{o.osm_id}",
        "lat": f"{o.lat:.6f}",
        "lon": f"{o.lon:.6f}",
        "source": "osm",
    }


def _places(found: list[OsmObject], locale: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for o in found:
        t = o.tags
        if t.get("name"):
            kind = "residential" if t.get("landuse") == "residential" else "poi"
            name = t["name"]
        else:
            number, street = t["addr:housenumber"], t["addr:street"]
            kind, name = (
                "address",
                (f"{street}{number}号" if locale == "zh-CN" else f"{number} {street}"),
            )
        out.append({"name": name, "lat": f"{o.lat:.6f}", "lon": f"{o.lon:.6f}", "kind": kind})
    return out


def _write_toml(
    folder: Path, name: str, locale: str, timezone: str, source: Path, rows: dict[str, int]
) -> None:
    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [
        f"# Written by `jijiu city init` from {source.name}; docs/city.md describes this file.",
        "[city]",
        f"name = {q(name)}",
        f"locale = {q(locale)}",
        f"timezone = {q(timezone)}",
        "",
        "[layers]",
        'network = "roads.npz"',
        f"network_source = {q(source.name)}",
    ]
    for layer in LAYERS:
        if rows.get(layer):
            lines.append(f'{layer} = "{layer}.csv"')
        else:
            lines.append(f'# {layer} = "{layer}.csv"   # none in the OSM file: not configured')
    (folder / CITY_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
