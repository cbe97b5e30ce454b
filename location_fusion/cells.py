"""Carrier cell data: the cell table, the serving cell of a call and the sector it implies.

The carrier reports the serving cell of a call (MCC, MNC, LAC/TAC, cell id) and, often, the
timing advance. The cell table (OpenCellID CSV layout, plus an `azimuth` and a `beamwidth`
column) turns that into a site position, a range and a sector; `sector_for` turns the cell and
the observation into a `Sector`: a wedge (or a full circle) and a radial band, whose soft
`log_likelihood` the fusion multiplies with the other fixes.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from location_fusion.errors import CellTableError, InvalidInput
from location_fusion.geo import DEG_M, F64, check_lat_lon

RADIOS = frozenset({"GSM", "UMTS", "LTE", "NR", "CDMA"})
CELL_ID_LIMIT = 2**36  # NR cell identities are 36 bits, the widest of the radios
LTE_TA_STEP_M = 78.12  # one LTE timing-advance step: 16 Ts of round trip, in one-way metres
LTE_TA_MAX = 1282  # the largest TA a random-access response can carry (about 100 km)
GSM_TA_STEP_M = 553.5  # one GSM bit period of round trip, in one-way metres
GSM_TA_MAX = 63
# A three-sector site splits the circle into thirds: a handset is served by the sector whose
# boresight is nearest, whatever the antenna's 3 dB beamwidth, so no serving wedge is narrower.
MIN_SERVING_HALF_WIDTH_DEG = 60.0
LEAK_EPS = 0.05  # share of handsets served from outside the wedge (sidelobes, reflections)
FALLOFF_MIN_SIGMA_M = 80.0

# OpenCellID's fourteen columns, then ours; `unit` is the PSC/PCI, times are Unix seconds.
HEADER = (
    *("radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples"),
    *("changeable", "created", "updated", "averageSignal", "azimuth", "beamwidth"),
)
_REQUIRED = ("radio", "mcc", "net", "area", "cell", "lon", "lat", "range", "samples")


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _ta_step_m(radio: str) -> float | None:
    return {"LTE": LTE_TA_STEP_M, "GSM": GSM_TA_STEP_M}.get(radio)


@dataclass(frozen=True)
class CellObservation:
    """The serving cell the carrier reports for a call; `area` is the LAC (GSM/UMTS) or TAC."""

    mcc: int
    mnc: int
    area: int
    cell: int
    radio: str = "LTE"
    # LTE: 0..1282 steps of 78.12 m; GSM: 0..63 steps of 553.5 m; other radios: ignored.
    timing_advance: int | None = None
    observed_at_s: float = 0.0

    def __post_init__(self) -> None:
        _check_key(self.radio, self.mcc, self.mnc, self.area, self.cell)
        ta = self.timing_advance
        if ta is not None:
            top = {"LTE": LTE_TA_MAX, "GSM": GSM_TA_MAX}.get(self.radio, math.inf)
            if not (_is_int(ta) and 0 <= ta <= top):
                raise InvalidInput(f"timing advance {ta!r} is outside 0..{top} for {self.radio}")
        t = self.observed_at_s
        if not (isinstance(t, int | float) and math.isfinite(t)):
            raise InvalidInput(f"observed_at_s must be a finite number, not {t!r}")

    @property
    def key(self) -> tuple[int, int, int, int]:
        return (self.mcc, self.mnc, self.area, self.cell)


def _check_key(radio: str, mcc: int, mnc: int, area: int, cell: int) -> None:
    if radio not in RADIOS:
        raise InvalidInput(f"radio {radio!r} is not one of {sorted(RADIOS)}")
    if not (_is_int(mcc) and 100 <= mcc <= 999):
        raise InvalidInput(f"mcc {mcc!r} is not in 100..999")
    if not (_is_int(mnc) and 0 <= mnc <= 999):
        raise InvalidInput(f"mnc {mnc!r} is not in 0..999")
    if not (_is_int(area) and area >= 0):
        raise InvalidInput(f"area (LAC/TAC) {area!r} is negative or not an integer")
    if not (_is_int(cell) and 0 <= cell < CELL_ID_LIMIT):
        raise InvalidInput(f"cell id {cell!r} is not in 0..2**36-1")


@dataclass(frozen=True)
class Cell:
    """One row of the cell table: a site position, its range (m) and, if known, its sector."""

    radio: str
    mcc: int
    mnc: int
    area: int
    cell: int
    lon: float
    lat: float
    range_m: float
    samples: int
    azimuth_deg: float | None = None  # boresight, degrees clockwise from north; None = omni
    beamwidth_deg: float = 120.0

    def __post_init__(self) -> None:
        _check_key(self.radio, self.mcc, self.mnc, self.area, self.cell)
        check_lat_lon(self.lat, self.lon, "cell site")
        if not (isinstance(self.range_m, int | float) and 0 < self.range_m < math.inf):
            raise InvalidInput(f"cell range {self.range_m!r} m is not positive and finite")
        if not (_is_int(self.samples) and self.samples >= 0):
            raise InvalidInput(f"samples {self.samples!r} is negative")
        az = self.azimuth_deg
        if az is not None and not (isinstance(az, int | float) and 0 <= az < 360):
            raise InvalidInput(f"azimuth {az!r} is not in [0, 360)")
        bw = self.beamwidth_deg
        if not (isinstance(bw, int | float) and 0 < bw <= 360):
            raise InvalidInput(f"beamwidth {bw!r} is not in (0, 360]")

    @property
    def key(self) -> tuple[int, int, int, int]:
        return (self.mcc, self.mnc, self.area, self.cell)


def _parse_row(row: dict[str, str]) -> Cell:
    az = row.get("azimuth", "").strip()
    bw = row.get("beamwidth", "").strip()
    return Cell(
        radio=row["radio"].strip().upper(),
        mcc=int(row["mcc"]),
        mnc=int(row["net"]),
        area=int(row["area"]),
        cell=int(row["cell"]),
        lon=float(row["lon"]),
        lat=float(row["lat"]),
        range_m=float(row["range"]),
        samples=int(row["samples"]),
        azimuth_deg=float(az) % 360.0 if az else None,
        beamwidth_deg=float(bw) if bw else 120.0,
    )


class CellTable:
    """Cells by (mcc, mnc, area, cell); `skipped` counts the rows the loader refused."""

    def __init__(self, cells: Iterable[Cell], skipped: int = 0) -> None:
        self._cells = tuple(cells)
        self.skipped = skipped
        self._exact: dict[tuple[str, int, int, int, int], Cell] = {}
        self._by_key: dict[tuple[int, int, int, int], Cell] = {}
        for c in self._cells:  # on duplicates the better-sampled row wins
            old = self._exact.get((c.radio, *c.key))
            if old is None or c.samples > old.samples:
                self._exact[(c.radio, *c.key)] = c
            old = self._by_key.get(c.key)
            if old is None or c.samples > old.samples:
                self._by_key[c.key] = c

    @classmethod
    def from_cells(cls, cells: Iterable[Cell]) -> CellTable:
        """A table of the given cells (nothing skipped)."""
        return cls(cells)

    @classmethod
    def load(cls, path: Path) -> CellTable:
        """Read an OpenCellID CSV (optionally gzipped, with or without its header line)."""
        cells: list[Cell] = []
        skipped = 0
        try:
            if Path(path).suffix == ".gz":
                with gzip.open(path, "rt", encoding="utf-8", newline="") as gz:
                    text = gz.read()
            else:
                text = Path(path).read_text(encoding="utf-8")
            reader = csv.reader(io.StringIO(text))
            first = next(reader, None)
            if first is None:
                return cls([], 0)
            if "radio" in (h.strip().lower() for h in first):
                names = [h.strip() for h in first]
                if missing := [c for c in _REQUIRED if c not in names]:
                    raise CellTableError(f"{path}: header lacks {', '.join(missing)}")
                rows: Iterable[list[str]] = reader
            else:  # headerless: OpenCellID's own column order
                names = list(HEADER)
                rows = [first, *reader]
            for fields in rows:
                if not fields:
                    continue
                try:
                    cells.append(_parse_row(dict(zip(names, fields, strict=False))))
                except (ValueError, KeyError):  # InvalidInput is a ValueError
                    skipped += 1
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            if isinstance(exc, CellTableError):
                raise
            raise CellTableError(f"cannot read cell table {path}: {exc}") from exc
        return cls(cells, skipped)

    def lookup(self, obs: CellObservation) -> Cell | None:
        """The cell the observation names (the same radio preferred), or None when unknown."""
        return self._exact.get((obs.radio, *obs.key)) or self._by_key.get(obs.key)

    def __len__(self) -> int:
        return len(self._cells)

    def __iter__(self) -> Iterator[Cell]:
        return iter(self._cells)

    def write_csv(self, path: Path) -> None:
        """Write the OpenCellID layout plus the azimuth and beamwidth columns."""
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(HEADER)
            for c in self._cells:
                az = "" if c.azimuth_deg is None else _num(c.azimuth_deg)
                key = (c.radio, c.mcc, c.mnc, c.area, c.cell, 0)
                where = (repr(float(c.lon)), repr(float(c.lat)), _num(c.range_m), c.samples)
                w.writerow((*key, *where, 1, 0, 0, 0, az, _num(c.beamwidth_deg)))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


@dataclass(frozen=True)
class Sector:
    """Where a serving cell (and its timing advance) puts the handset: a wedge of a radial band.

    `log_likelihood` is a soft wedge: flat inside, a Gaussian fall-off with the distance (m) to
    the wedge outside (sigma = max(80 m, 0.15 * r_max_m)), mixed with a 5 % broad Gaussian
    around the site (sigma = 2 * r_max_m) for sidelobes and reflections. Both parts are
    densities per m², so it is finite everywhere and can be summed with other log-likelihoods.
    """

    lon: float
    lat: float
    azimuth_deg: float | None  # boresight, degrees clockwise from north; None = full circle
    half_width_deg: float  # half the beamwidth (60 for 120°)
    r_min_m: float
    r_max_m: float
    _c: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_lat_lon(self.lat, self.lon, "sector site")
        az, hw = self.azimuth_deg, self.half_width_deg
        if az is not None and not (isinstance(az, int | float) and 0 <= az < 360):
            raise InvalidInput(f"azimuth {az!r} is not in [0, 360)")
        if not (isinstance(hw, int | float) and 0 < hw <= 180):
            raise InvalidInput(f"half width {hw!r} is not in (0, 180]")
        lo, hi = self.r_min_m, self.r_max_m
        if not (0 <= lo < hi < math.inf):
            raise InvalidInput(f"radial band [{lo!r}, {hi!r}] m is empty or not finite")
        hw_rad = math.pi if az is None else math.radians(hw)
        az_rad = math.radians(az or 0.0)
        sigma = max(FALLOFF_MIN_SIGMA_M, 0.15 * hi)
        area = hw_rad * (hi * hi - lo * lo)
        perimeter = 2 * hw_rad * (hi + lo) + (0.0 if hw_rad >= math.pi else 2 * (hi - lo))
        # Steiner: the fall-off outside a convex region of perimeter P integrates to
        # P*sigma*sqrt(pi/2) + 2*pi*sigma**2, so the fall-off part is (nearly) a density.
        z = area + perimeter * sigma * math.sqrt(math.pi / 2) + 2 * math.pi * sigma**2
        sb = 2.0 * hi
        c = (
            DEG_M * math.cos(math.radians(self.lat)),  # metres per degree of longitude
            math.sin(az_rad),  # boresight unit vector, east
            math.cos(az_rad),  # and north
            math.cos(hw_rad),
            math.sin(hw_rad),
            math.log(1 - LEAK_EPS) - math.log(z),
            -0.5 / sigma**2,
            math.log(LEAK_EPS) - math.log(2 * math.pi * sb * sb),
            -0.5 / sb**2,
        )
        object.__setattr__(self, "_c", c)

    @property
    def omni(self) -> bool:
        return self.azimuth_deg is None or self.half_width_deg >= 180

    def _polar(self, lon: ArrayLike, lat: ArrayLike) -> tuple[F64, F64, F64]:
        """Squared range (m²), range (m) and r*cos(angle beyond the wedge's edge) (m)."""
        kx, ux, uy, cos_hw, sin_hw = self._c[:5]
        x = (np.asarray(lon, dtype=np.float64) - self.lon) * kx
        y = (np.asarray(lat, dtype=np.float64) - self.lat) * DEG_M
        r2 = x * x + y * y
        r = np.sqrt(r2)
        if self.omni:
            return r2, r, r
        along = x * ux + y * uy  # r cos(bearing off boresight)
        across = np.abs(x * uy - y * ux)  # r |sin(bearing off boresight)|
        # cos(off - hw) = cos(off) cos(hw) + sin(off) sin(hw), used only beyond the edge
        rcos = np.where(along >= r * cos_hw, r, along * cos_hw + across * sin_hw)
        return r2, r, rcos

    def log_likelihood(self, lon: ArrayLike, lat: ArrayLike) -> F64:
        """Log density (per m²) that a handset served this way stands at each lon/lat."""
        return self.log_likelihood_and_distance(lon, lat)[0]

    def distance_m(self, lon: ArrayLike, lat: ArrayLike) -> F64:
        """Metres from each lon/lat to the wedge's band; 0 inside."""
        return self.log_likelihood_and_distance(lon, lat)[1]

    def log_likelihood_and_distance(self, lon: ArrayLike, lat: ArrayLike) -> tuple[F64, F64]:
        """Both at once: they share the polar coordinates, the costly part."""
        r2, r, rcos = self._polar(lon, lat)
        log_in, k_in, log_b, k_b = self._c[5:]
        rc = np.clip(r, self.r_min_m, self.r_max_m)
        # squared distance to the nearest wedge point at radius rc on the nearer edge (law of
        # cosines); inside the wedge it is 0
        d2 = np.maximum(r2 + rc * rc - 2.0 * rc * rcos, 0.0)
        a = log_in + k_in * d2
        b = log_b + k_b * r2
        # log(e^a + e^b), written out: np.logaddexp is several times slower on small arrays
        return np.asarray(np.maximum(a, b) + np.log1p(np.exp(-np.abs(a - b)))), np.sqrt(d2)

    def contains(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
        """True where the point lies in the wedge and the radial band."""
        _, r, rcos = self._polar(lon, lat)
        inside = (r >= self.r_min_m) & (r <= self.r_max_m)
        return np.asarray(inside & (rcos >= r - 1e-9 * (1.0 + r)))

    def centroid(self) -> tuple[float, float]:
        """Lon, lat of the area centroid of the wedge's band (the site for a full circle)."""
        if self.omni:
            return self.lon, self.lat
        kx, ux, uy = self._c[:3]
        hw = math.radians(self.half_width_deg)
        lo, hi = self.r_min_m, self.r_max_m
        rho = 2 * math.sin(hw) / (3 * hw) * (hi**3 - lo**3) / (hi**2 - lo**2)
        return self.lon + rho * ux / kx, self.lat + rho * uy / DEG_M

    def sample(self, n: int, rng: np.random.Generator) -> tuple[F64, F64]:
        """`n` points drawn uniformly from the wedge's band (lon, lat arrays)."""
        kx, ux, uy = self._c[:3]
        lo, hi = self.r_min_m, self.r_max_m
        r = np.sqrt(rng.uniform(lo * lo, hi * hi, n))
        hw = math.pi if self.omni else math.radians(self.half_width_deg)
        off = rng.uniform(-hw, hw, n)  # radians clockwise of the boresight
        east = r * (np.sin(off) * uy + np.cos(off) * ux)
        north = r * (np.cos(off) * uy - np.sin(off) * ux)
        return self.lon + east / kx, self.lat + north / DEG_M


def sector_for(cell: Cell, obs: CellObservation) -> Sector:
    """The sector a serving cell implies; a timing advance narrows the band to ±1 step."""
    r_min, r_max = 0.0, float(cell.range_m)
    step = _ta_step_m(obs.radio)
    if obs.timing_advance is not None and step is not None:
        d = obs.timing_advance * step
        lo, hi = max(0.0, d - step), d + step
        # The table's range is an estimate from crowd samples; the timing advance is a
        # measurement, so when they disagree the band keeps what the TA says.
        r_min, r_max = (lo, min(hi, r_max)) if lo < r_max else (lo, hi)
    if cell.azimuth_deg is None:
        return Sector(cell.lon, cell.lat, None, 180.0, r_min, r_max)
    half = min(180.0, max(cell.beamwidth_deg / 2, MIN_SERVING_HALF_WIDTH_DEG))
    return Sector(cell.lon, cell.lat, cell.azimuth_deg, half, r_min, r_max)
