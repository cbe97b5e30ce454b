"""City folders for tests: West Oakland built by `city init` from the bundled extract.

The extract (tests/data/West-Oakland.osm.bz2, about 450 x 330 m around 7th and Wood Street)
holds streets and named places but no hospital, station, AED or cell; `oakland_city` adds
the two hospitals below, written by hand on two of its junctions, and leaves out the layers
a test asks it to, so each missing layer can be served on its own.
"""

from __future__ import annotations

import re
from pathlib import Path

from dispatch.settings import Settings
from routing.city import CITY_FILE
from routing.city_init import init_city

OAKLAND_OSM = Path(__file__).resolve().parents[1] / "data" / "West-Oakland.osm.bz2"

# Two made-up hospitals, each on a junction node of the extract's roads: one with every
# capability but burns, one with an ED only. Names and capabilities are illustrative.
OAKLAND_HOSPITALS = """\
hospital_id,name_zh,name_en,address_zh,lat,lon,ed,chest_pain_pci,stroke_thrombectomy,trauma,pediatric,obstetric,burn,ed_beds
oak-general,West Oakland General,West Oakland General,1 7th Street,37.80738,-122.29894,1,1,1,1,1,1,0,20
oak-willow,Willow Street Clinic,Willow Street Clinic,2 8th Street,37.80898,-122.29951,1,0,0,0,0,0,0,6
"""  # noqa: E501
OAKLAND_HOSPITAL_IDS = frozenset({"oak-general", "oak-willow"})


def name_layer(folder: Path, layer: str, file: str) -> None:
    """Name `file` (in the folder) as the city's `layer` in its city.toml."""
    path = folder / CITY_FILE
    text = re.sub(rf"(?m)^#? ?{layer} = .*$", "", path.read_text(encoding="utf-8"))
    path.write_text(text.rstrip("\n") + f'\n{layer} = "{file}"\n', encoding="utf-8")


def drop_layer(folder: Path, layer: str) -> None:
    """Leave `layer` out of the city's city.toml: not configured."""
    path = folder / CITY_FILE
    text = re.sub(rf"(?m)^{layer} = .*$", "", path.read_text(encoding="utf-8"))
    path.write_text(text, encoding="utf-8")


def oakland_city(folder: Path, *, hospitals: bool = True, places: bool = True) -> Path:
    """West Oakland as a city folder (locale en), with the two hospitals above unless
    `hospitals` is False, and its OSM places unless `places` is False."""
    init_city(folder, OAKLAND_OSM, timezone="America/Los_Angeles", name="West Oakland")
    if hospitals:
        (folder / "hospitals.csv").write_text(OAKLAND_HOSPITALS, encoding="utf-8")
        name_layer(folder, "hospitals", "hospitals.csv")
    if not places:
        drop_layer(folder, "places")
    return folder


def city_settings(folder: Path, tmp: Path, units: int) -> Settings:
    """A test server on the city `folder`: a fresh SQLite log and tokens in `tmp`, any free
    ports, `units` seeded units (unless the city lists its fleet), offers that never time
    out, a fast clock."""
    return Settings(
        city=str(folder),
        store_url=f"sqlite:///{tmp / 'events.db'}",
        tokens_file=tmp / "tokens.json",
        port=0,
        ws_port=0,
        seed_fleet=units,
        ack_timeout_s=3600.0,
        tick_s=0.2,
    )
