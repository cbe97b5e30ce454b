"""Read a real call log (a path given to `jijiu simulate --calls`) into calls to replay.

Three layouts (`--format`), all CSV (gzip-compressed when the name ends in `.gz`):

- `sf`: the San Francisco Fire Department's "Fire Department Calls for Service" (DataSF), one row
  per unit dispatched, as in `data/sf_fire_calls/`. An incident with an ambulance is one call;
  priority, complaint and the service intervals are mapped as in `simulator.world.replay`; the
  place is the `Location` column, "(lat, lon)".
- `csv`: one row per call with columns for `received` (the time the call came in), `priority`
  (1-3 or P1-P3), `lat` and `lon` (WGS-84 degrees), and optionally `complaint` (a complaint name
  such as chest_pain), `transport` (yes/no, true/false, 1/0) and `id`. Those are the default
  header names; `ColumnMap.parse("received=Time,lat=Y,...")` maps other names onto them.
- `nemsis`: a flat export of NEMSIS v3 records, columns named by element number: `eTimes.01`
  (PSAP call time, ISO 8601), `eResponse.23` (response mode: emergent P1, downgraded P2,
  non-emergent P3), `eScene.11` ("lat,lon"), optionally `eDisposition.30` (transported by this
  unit) and `eResponse.03` (incident number).

Times are naive local clock times: ISO 8601 by default, or any `strptime` format. A row that
cannot be read is a `BadRow` (its line number in the file and why); the log is refused with a
`CallLogError` when it has no call or more than `MAX_BAD_SHARE` of its rows are bad.
"""

from __future__ import annotations

import csv
import gzip
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from dispatch.core.export_nemsis import (
    NEMSIS_ID,
    NEMSIS_MODE,
    NEMSIS_RECEIVED,
    NEMSIS_SCENE,
    NEMSIS_TRANSPORT,
    RESPONSE_MODES,
    TRANSPORTED,
)
from dispatch.core.model import Complaint, Priority
from simulator.errors import SimulatorError
from simulator.world.replay import (
    AMBULANCE_UNIT_TYPES,
    STAMP_COLUMNS,
    WEEK_START,
    LoggedIncident,
    incident_from_row,
)

FORMATS = ("sf", "csv", "nemsis")
MAX_BAD_SHARE = 0.05  # more bad rows than this share of the data rows refuses the log
SHOWN_BAD_ROWS = 5
_SF_COLUMNS = (
    "Incident Number",
    "Unit Type",
    "Call Type",
    "Original Priority",
    "Received DtTm",
    *STAMP_COLUMNS,
    "Location",
)
_POINT = re.compile(r"^\(?\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\)?$")
_TRUE = frozenset({"1", "y", "yes", "true", "t"})
_FALSE = frozenset({"0", "n", "no", "false", "f"})


class CallLogError(SimulatorError, ValueError):
    """A call log that cannot be replayed: missing, unsupported, wrong header, empty or too
    many unreadable rows."""

    reason = "call_log_invalid"


@dataclass(frozen=True)
class LogCall:
    """One call from a log; None where the log does not say."""

    call_id: str
    received: datetime
    priority: Priority
    lat: float | None
    lon: float | None
    complaint: Complaint | None = None
    transported: bool | None = None
    on_scene_s: float | None = None  # on scene -> left (with or without the patient)
    at_hospital_s: float | None = None  # at hospital -> available


@dataclass(frozen=True)
class BadRow:
    line: int  # line number in the file (the header is line 1)
    why: str


@dataclass(frozen=True)
class CallLog:
    """The calls of a log in time order, and what was not taken from it."""

    calls: tuple[LogCall, ...]
    rows: int  # data rows read
    bad: tuple[BadRow, ...]


@dataclass(frozen=True)
class ColumnMap:
    """Which header names hold each field of a generic CSV (optional fields may be None)."""

    received: str = "received"
    priority: str = "priority"
    lat: str = "lat"
    lon: str = "lon"
    complaint: str | None = "complaint"
    transport: str | None = "transport"
    id: str | None = "id"
    time_format: str | None = None  # strptime format; None: ISO 8601

    @classmethod
    def parse(cls, text: str, time_format: str | None = None) -> ColumnMap:
        """`field=Header,...` over the defaults; CallLogError for an unknown field."""
        known = {f.name for f in fields(cls)} - {"time_format"}
        given: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, header = part.partition("=")
            if not sep or key.strip() not in known or not header.strip():
                raise CallLogError(
                    f"--columns: cannot read {part!r}; use field=Header with fields "
                    f"{', '.join(sorted(known))}"
                )
            given[key.strip()] = header.strip()
        return cls(**given, time_format=time_format)


def read_call_log(path: Path, fmt: str, columns: ColumnMap | None = None) -> CallLog:
    """The calls of the log at `path` in layout `fmt`; CallLogError when it cannot be used."""
    if fmt not in FORMATS:
        raise CallLogError(f"unknown call log format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise CallLogError(f"the call log {path} does not exist")
    try:
        with _open(path) as f:
            reader = csv.DictReader(f)
            header = list(reader.fieldnames or [])
            if not header:
                raise CallLogError(f"the call log {path} is empty (not even a header line)")
            if fmt == "sf":
                log = sf_calls(header, _numbered(reader))
            elif fmt == "nemsis":
                log = nemsis_calls(header, _numbered(reader))
            else:
                log = csv_calls(header, _numbered(reader), columns or ColumnMap())
    except (UnicodeDecodeError, OSError, csv.Error) as exc:  # not UTF-8 CSV, or a bad gzip
        raise CallLogError(f"the call log {path} is not readable CSV text: {exc}") from None
    check(log, path)
    return log


def check(log: CallLog, path: Path) -> None:
    """Refuse a log with no call or too many bad rows, showing the first bad rows."""
    shown = "".join(f"\n  line {b.line}: {b.why}" for b in log.bad[:SHOWN_BAD_ROWS])
    rest = len(log.bad) - SHOWN_BAD_ROWS
    more = f"\n  ... and {rest} more" if rest > 0 else ""
    if log.rows == 0:
        raise CallLogError(f"the call log {path} has no data rows")
    if len(log.bad) > MAX_BAD_SHARE * log.rows:
        raise CallLogError(
            f"the call log {path}: {len(log.bad)} of {log.rows} rows cannot be read (more than "
            f"{MAX_BAD_SHARE:.0%}):{shown}{more}"
        )
    if not log.calls:
        raise CallLogError(f"the call log {path} gave no call ({log.rows} rows read){shown}")


def _open(path: Path) -> IO[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    return opener(path, "rt", encoding="utf-8-sig", newline="")


def _numbered(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str]]]:
    for row in reader:
        yield reader.line_num, row


def _missing(header: list[str], needed: Iterable[str], fmt: str) -> None:
    lack = [c for c in needed if c not in header]
    if lack:
        raise CallLogError(
            f"wrong header for --format {fmt}: missing column(s) {', '.join(map(repr, lack))}; "
            f"the file has {', '.join(map(repr, header[:12])) or 'no header'}"
        )


def _point(text: str) -> tuple[float, float] | None:
    """(lat, lon) from "(lat, lon)"; None when empty; ValueError when unreadable."""
    if not text.strip():
        return None
    m = _POINT.match(text.strip())
    if m is None:
        raise ValueError(f"location {text!r} is not (lat, lon)")
    return _lat_lon(m.group(1), m.group(2))


def _lat_lon(lat_text: str, lon_text: str) -> tuple[float, float]:
    lat, lon = float(lat_text), float(lon_text)
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        raise ValueError(f"lat/lon {lat_text!r}, {lon_text!r} out of range")
    return lat, lon


# --- the SF Fire Department layout ---------------------------------------------------------
def sf_calls(header: list[str], rows: Iterable[tuple[int, dict[str, str]]]) -> CallLog:
    """Incidents with an ambulance, each from its first-dispatched ambulance row."""
    _missing(header, _SF_COLUMNS, "sf")
    n, bad = 0, []
    first: dict[str, tuple[LoggedIncident, tuple[float, float] | None]] = {}
    for line, row in rows:
        n += 1
        if row.get("Unit Type") not in AMBULANCE_UNIT_TYPES:
            continue
        try:
            inc = incident_from_row(row["Incident Number"], row)
            if math.isinf(inc.received_s):
                raise ValueError("no Received DtTm")
            where = _point(row["Location"] or "")
        except (ValueError, TypeError) as exc:
            bad.append(BadRow(line, str(exc)))
            continue
        held = first.get(inc.incident_number)
        if held is None or _dispatched(inc) < _dispatched(held[0]):
            first[inc.incident_number] = (inc, where)
    calls = [_from_sf(inc, where) for inc, where in first.values()]
    calls.sort(key=lambda c: (c.received, c.call_id))
    return CallLog(tuple(calls), n, tuple(bad))


def _dispatched(inc: LoggedIncident) -> float:
    return math.inf if inc.dispatch_s is None else inc.dispatch_s


def _from_sf(inc: LoggedIncident, where: tuple[float, float] | None) -> LogCall:
    transported = inc.transported
    scene = inc.interval_s("on_scene_s", "transport_s" if transported else "available_s")
    return LogCall(
        f"SF{inc.incident_number}",
        WEEK_START + timedelta(seconds=inc.received_s),
        inc.priority,
        where[0] if where else None,
        where[1] if where else None,
        inc.complaint,
        transported,
        scene,
        inc.interval_s("hospital_s", "available_s"),
    )


# --- a generic CSV -----------------------------------------------------------------------------
def csv_calls(
    header: list[str], rows: Iterable[tuple[int, dict[str, str]]], cols: ColumnMap
) -> CallLog:
    """One call per row, read through the column map."""
    _missing(header, (cols.received, cols.priority, cols.lat, cols.lon), "csv")
    n, bad, calls = 0, [], []
    for line, row in rows:
        n += 1
        try:
            calls.append(_csv_call(row, cols, header, f"L{line}"))
        except (ValueError, TypeError) as exc:
            bad.append(BadRow(line, str(exc)))
    calls.sort(key=lambda c: (c.received, c.call_id))
    return CallLog(tuple(calls), n, tuple(bad))


def _csv_call(row: dict[str, str], cols: ColumnMap, header: list[str], fallback: str) -> LogCall:
    def opt(name: str | None) -> str:
        return (row.get(name) or "").strip() if name and name in header else ""

    received = _time((row.get(cols.received) or "").strip(), cols.time_format)
    priority = _priority((row.get(cols.priority) or "").strip())
    lat, lon = _lat_lon((row.get(cols.lat) or "").strip(), (row.get(cols.lon) or "").strip())
    complaint_text = opt(cols.complaint).lower().replace(" ", "_")
    try:
        complaint = Complaint(complaint_text) if complaint_text else None
    except ValueError:
        raise ValueError(f"unknown complaint {complaint_text!r}") from None
    return LogCall(
        opt(cols.id) or fallback,
        received,
        priority,
        lat,
        lon,
        complaint,
        _flag(opt(cols.transport)),
    )


# NEMSIS v3 elements of a flat (one row per record) CSV export, by element number, and the
# codes read from them: one table with the NEMSIS export (`jijiu export`).
_NEMSIS_MODES = RESPONSE_MODES  # eResponse.23 by its last three digits -> priority
_NEMSIS_TRANSPORTED = TRANSPORTED  # eDisposition.30: by this EMS unit (alone or with others)


def nemsis_calls(header: list[str], rows: Iterable[tuple[int, dict[str, str]]]) -> CallLog:
    """One call per record of a flat NEMSIS v3 CSV export (columns named by element number:
    eTimes.01, eResponse.23, eScene.11, and optionally eDisposition.30, eResponse.03)."""
    _missing(header, (NEMSIS_RECEIVED, NEMSIS_MODE, NEMSIS_SCENE), "nemsis")
    n, bad, calls = 0, [], []
    for line, row in rows:
        n += 1
        try:
            calls.append(_nemsis_call(row, f"L{line}"))
        except (ValueError, TypeError) as exc:
            bad.append(BadRow(line, str(exc)))
    calls.sort(key=lambda c: (c.received, c.call_id))
    return CallLog(tuple(calls), n, tuple(bad))


def _nemsis_call(row: dict[str, str], fallback: str) -> LogCall:
    received = _time((row.get(NEMSIS_RECEIVED) or "").strip(), None)
    mode = (row.get(NEMSIS_MODE) or "").strip()
    priority = _NEMSIS_MODES.get(mode[-3:]) if len(mode) == 7 and mode.isdigit() else None
    if priority is None:
        raise ValueError(f"eResponse.23 {mode!r} is not a response mode code")
    where = _point((row.get(NEMSIS_SCENE) or "").strip())
    if where is None:
        raise ValueError("eScene.11 is not a 'lat,lon' point")
    lat, lon = _lat_lon(str(where[0]), str(where[1]))
    transport = (row.get(NEMSIS_TRANSPORT) or "").strip()
    transported = (transport in _NEMSIS_TRANSPORTED) if transport else None
    call_id = (row.get(NEMSIS_ID) or "").strip() or fallback
    return LogCall(call_id, received, priority, lat, lon, None, transported)


def _time(text: str, time_format: str | None) -> datetime:
    if not text:
        raise ValueError("no received time")
    try:
        t = datetime.strptime(text, time_format) if time_format else datetime.fromisoformat(text)
    except ValueError:
        want = time_format or "ISO 8601"
        raise ValueError(f"received time {text!r} does not match {want}") from None
    return t.replace(tzinfo=None)


def _priority(text: str) -> Priority:
    code = text.upper().removeprefix("P")
    if code not in ("1", "2", "3"):
        raise ValueError(f"priority {text!r} is not 1-3 or P1-P3")
    return Priority(int(code))


def _flag(text: str) -> bool | None:
    if text and text.lower() not in _TRUE | _FALSE:
        raise ValueError(f"transport {text!r} is not yes/no")
    return text.lower() in _TRUE if text else None
