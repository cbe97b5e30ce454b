"""Exports of incidents as NEMSIS v3.5.1 XML or FHIR R4 JSON: from the running service, and
offline from the event log (`jijiu export`).

The pure modules say what an export holds (`dispatch.core.export_record`, `export_nemsis`,
`export_fhir`); here is where its parts come from. Engine times go on the wall clock by the
start anchors the service logs (`dispatch.service.clock`), in the city's time zone; the patient
is named by the pseudonym the hospital link uses; the destination is read from the city's
hospital registry; the vitals are the Observations logged on that hospital's feed for the
incident (numerics only, not the ECG), thinned to one per code per minute.

Offline, nothing needs a running server: the log (SQLite file or Redis, by URL) is replayed
into an engine on the city's road network, and each closed incident whose call came in the
window is written to its own file, 0600, in a 0700 folder. The offline export never holds
personal fields: they are sealed in the log and opened only by the server, for a dispatcher.
"""

from __future__ import annotations

import bisect
import json
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, tzinfo
from importlib import metadata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dispatch.core.engine import Engine, EngineSettings, Incident
from dispatch.core.export_fhir import fhir_bundle, thin_vitals
from dispatch.core.export_nemsis import Software, nemsis_xml
from dispatch.core.export_record import Destination, ExportRecord, PersonalFields, record_of
from dispatch.core.model import Step
from dispatch.service.city import city_of, hospital_registry
from dispatch.service.clock import CLOCK
from dispatch.settings import Settings
from dispatch.store.eventlog import EventLog, open_log
from dispatch.store.replay import replay
from dispatch.tokens import write_private
from hospital_link.fhir import patient_pseudonym
from hospital_link.registry import Registry
from routing.city import load_city_network
from routing.router import Router

#: format -> (media type, file suffix)
FORMATS: Mapping[str, tuple[str, str]] = {
    "nemsis": ("application/xml", ".xml"),
    "fhir": ("application/fhir+json", ".json"),
}
VITAL_CATEGORIES = frozenset({"vital-signs", "survey"})  # the numerics; "procedure" is the ECG


def software_of(settings: Settings) -> Software:
    """The agency (the city's name) and jijiu's version, for eRecord and eResponse."""
    name = city_of(settings).name or "jijiu"
    try:
        version = metadata.version("jijiu")
    except metadata.PackageNotFoundError:
        version = "0"
    return Software(agency_id="jijiu", agency_name=name, version=version)


def zone_of(settings: Settings) -> tzinfo:
    """The city's time zone (its city.toml; UTC when it names none)."""
    return ZoneInfo(city_of(settings).timezone or "UTC")


def render(record: ExportRecord, fmt: str, software: Software) -> bytes:
    """The record in `fmt` ("nemsis" or "fhir"), as bytes in UTF-8."""
    if fmt == "nemsis":
        return nemsis_xml(record, software).encode()
    if fmt == "fhir":
        return json.dumps(fhir_bundle(record), ensure_ascii=False, indent=1).encode()
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")


def destination_of(registry: Registry, hospital_id: str | None) -> Destination | None:
    """The receiving hospital with its name and place, or its id alone if the city lacks it."""
    if hospital_id is None:
        return None
    if hospital_id not in registry:
        return Destination(hospital_id)
    h = registry.hospital(hospital_id)
    return Destination(hospital_id, h.name_en or h.name_zh, h.lat, h.lon)


def logged_vitals(log: EventLog, hospital_id: str) -> dict[str, list[Mapping[str, Any]]]:
    """The vitals Observations logged on a hospital's feed, by incident, thinned."""
    found: dict[str, list[Mapping[str, Any]]] = {}
    after = 0
    while page := log.read_feed(f"hospital:{hospital_id}", after):
        after = page[-1].seq
        for record in page:
            body = record.body
            if body.get("type") != "vitals":
                continue
            for entry in body.get("bundle", {}).get("entry", []):
                resource = entry.get("resource", {})
                if resource.get("resourceType") == "Observation" and _vital(resource):
                    found.setdefault(str(body.get("incident_id")), []).append(resource)
    return {incident_id: thin_vitals(obs) for incident_id, obs in found.items()}


def _vital(obs: Mapping[str, Any]) -> bool:
    codes = {c.get("code") for cat in obs.get("category", []) for c in cat.get("coding", [])}
    return bool(codes & VITAL_CATEGORIES)


def wall_clock(log: EventLog) -> Callable[[float], float]:
    """Engine time -> Unix time by the start anchors in the log (as `EngineClock.wall_of`)."""
    anchors: list[tuple[float, float]] = []
    while page := log.read_feed(CLOCK, len(anchors)):
        anchors += [(float(r.body["engine_s"]), float(r.body["wall_s"])) for r in page]
    if not anchors:
        raise ValueError("the event log has no clock anchors: no server ever started on it")

    def wall_of(engine_s: float) -> float:
        i = bisect.bisect_right(anchors, (engine_s, float("inf"))) - 1
        engine0, wall0 = anchors[max(i, 0)]
        return wall0 + (engine_s - engine0)

    return wall_of


def export_log(
    settings: Settings,
    fmt: str,
    out_dir: Path,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: Callable[[Iterable[Incident]], Iterable[Incident]] = iter,
) -> list[Path]:
    """Write every closed incident of the log whose call came in [since, until) to its own
    file in `out_dir`, without personal fields; the files written, in call order."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not settings.tokens_file.exists():  # the pseudonyms' secret: never made up here
        raise ValueError(f"no tokens file {settings.tokens_file}: set JIJIU_TOKENS_FILE")
    secret = json.loads(settings.tokens_file.read_text(encoding="utf-8"))["secret"].encode()
    city = city_of(settings)
    log = open_log(settings.store_url)
    try:
        engine = Engine(
            Router(load_city_network(city)[0]),
            EngineSettings(
                settings.ack_timeout_s,
                settings.auto_dispatch_p1,
                hospital_ack_s=settings.hospital_ack_s,
            ),
        )
        replay(log, engine)
        wall_of = wall_clock(log)
        zone = zone_of(settings)
        chosen = [
            inc
            for inc in engine.incidents.values()
            if Step.CLOSED in inc.timeline
            and _within(wall_of(inc.timeline[Step.CALL_RECEIVED]), since, until)
        ]
        chosen.sort(key=lambda inc: (inc.timeline[Step.CALL_RECEIVED], inc.incident_id))
        registry = hospital_registry(city)
        vitals: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
        for hospital_id in sorted({i.destination for i in chosen if i.destination is not None}):
            vitals[hospital_id] = logged_vitals(log, hospital_id)
    finally:
        log.close()
    software = software_of(settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(out_dir, 0o700)
    written = []
    for inc in progress(chosen):
        unit = engine.units.get(inc.unit_id) if inc.unit_id is not None else None
        record = record_of(
            inc,
            wall_of=wall_of,
            zone=zone,
            patient_id=patient_pseudonym(inc.incident_id, secret),
            unit_capability=unit.capability if unit is not None else None,
            destination=destination_of(registry, inc.destination),
            vitals=vitals.get(inc.destination or "", {}).get(inc.incident_id, ()),
        )
        path = out_dir / f"{_safe(inc.incident_id)}{FORMATS[fmt][1]}"
        write_private(path, render(record, fmt, software).decode())
        written.append(path)
    return written


def personal_fields(
    opened: Mapping[str, str] | None, callback_allowed: bool, address: str | None
) -> PersonalFields:
    """The personal fields of an export from what the service opened (None: nothing kept)."""
    opened = opened or {}
    return PersonalFields(opened.get("phone"), opened.get("notes"), address, callback_allowed)


def _within(unix_s: float, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or unix_s >= since.timestamp()) and (
        until is None or unix_s < until.timestamp()
    )


def _safe(incident_id: str) -> str:
    """A file name from an incident id: letters, digits, '-', '_' and '.', the rest '_'."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in incident_id)
    return name.lstrip(".") or "incident"
