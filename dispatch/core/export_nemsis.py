"""An incident as NEMSIS v3.5.1 XML: one `EMSDataSet` with one `PatientCareReport`.

Shaped like the NEMSIS 2025 compliance test cases (`EMSDataSet` > `Header` >
`DemographicGroup` + `PatientCareReport`, its sections in the schema's order), holding only
what jijiu knows: eRecord (the incident id, the software), eResponse (agency, incident number,
unit, type of service, response mode), eDispatch (complaint reported by dispatch, EMD and its
determinant), eTimes, ePatient (sex only: an age band is not an age), eScene (the point, and
the read-back when personal fields are allowed), eNarrative (the caller's number and the
call-taker's notes, likewise) and eDisposition (destination, unit and transport disposition).

eTimes come from the engine's timeline, whose steps carry their element names
(`dispatch.core.model.Step`); a step that did not happen is `xsi:nil` with NV 7701001 (not
applicable) in a closed incident, 7701003 (not recorded) in an open one. jijiu has no
"arrived at patient" (eTimes.07): always not recorded. Times are ISO 8601 to the second with
the city's UTC offset, as in the test cases. Codes are from the NEMSIS v3.5.1 data dictionary;
those the test cases use (2205001, 2223001, 2223005, 2301051, 2301059, 2301069, 2302003,
2302007, 4227001, 4230001, 4230013, 9919001, 9919003) were checked against them.

The element names and codes a flat NEMSIS CSV is read by (`simulator.world.call_log`) live
here too, so reading and writing use one table.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

from dispatch.core.export_record import ExportRecord
from dispatch.core.model import Complaint, Priority, Step

NS = "http://www.nemsis.org"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA = (
    "http://www.nemsis.org https://nemsis.org/media/nemsis_v3/3.5.1.250403CP1/XSDs/"
    "NEMSIS_XSDs/EMSDataSet_v3.xsd"
)
_UUIDS = uuid.UUID("6b1f3c2e-8d4a-4e57-9c0b-2a7e5d1f9a40")  # jijiu's NEMSIS report uuids
ET.register_namespace("", NS)  # written as the default namespace, as in the test cases
ET.register_namespace("xsi", XSI)

# Elements of a flat (one row per record) CSV export, by element number.
NEMSIS_RECEIVED = "eTimes.01"  # PSAP call date/time
NEMSIS_MODE = "eResponse.23"  # response mode to scene
NEMSIS_SCENE = "eScene.11"  # scene GPS location, "lat,lon"
NEMSIS_TRANSPORT = "eDisposition.30"  # transport disposition (v3.5)
NEMSIS_ID = "eResponse.03"  # incident number
# eResponse.23 by its last three digits (2223xxx): emergent or upgraded to emergent is P1,
# emergent downgraded P2, non-emergent P3. An export writes the first code of its priority.
RESPONSE_MODES: Mapping[str, Priority] = {
    "001": Priority.P1,
    "007": Priority.P1,
    "003": Priority.P2,
    "005": Priority.P3,
}
TRANSPORTED = frozenset({"4230001", "4230003"})  # by this EMS unit (alone or with others)
NOT_TRANSPORTED = "4230013"  # no transport
# eResponse.05 type of service requested: emergency response (primary response area).
EMERGENCY_RESPONSE = "2205001"
# eDispatch.01 complaint reported by dispatch.
DISPATCH_COMPLAINTS: Mapping[Complaint, str] = {
    Complaint.CARDIAC_ARREST: "2301019",  # cardiac arrest/death
    Complaint.CHEST_PAIN: "2301021",  # chest pain (non-traumatic)
    Complaint.STROKE: "2301067",  # stroke/CVA
    Complaint.TRAUMA: "2301073",  # traumatic injury
    Complaint.BREATHING: "2301013",  # breathing problem
    Complaint.OBSTETRIC: "2301057",  # pregnancy/childbirth/miscarriage
    Complaint.PAEDIATRIC: "2301051",  # no other appropriate choice (an age, not a complaint)
    Complaint.OTHER: "2301051",
}
EMD_NOT_PERFORMED = "2302001"
EMD_PERFORMED = "2302007"  # yes, unknown whether pre-arrival instructions were given
# eDisposition.27 unit disposition.
PATIENT_CONTACT = "4227001"
CANCELLED_ON_SCENE = "4227003"
CANCELLED_BEFORE_SCENE = "4227005"
SEXES: Mapping[str, str] = {"female": "9919001", "male": "9919003"}  # ePatient.25
NOT_APPLICABLE = "7701001"
NOT_RECORDED = "7701003"
# The eTimes written, in the schema's order: jijiu's steps and eTimes.07 (never recorded).
ETIMES: tuple[str, ...] = tuple(f"eTimes.{n:02d}" for n in (1, 3, 4, 5, 6, 7, 9, 11, 12, 13))


def response_mode(priority: Priority) -> str:
    """eResponse.23 for a priority: the first code RESPONSE_MODES reads back as it."""
    return "2223" + next(code for code, p in RESPONSE_MODES.items() if p is priority)


@dataclass(frozen=True)
class Software:
    """Who wrote the report (eRecord) and for which agency (dAgency, eResponse.AgencyGroup)."""

    agency_id: str = "jijiu"
    agency_name: str = "jijiu"
    version: str = "0"


def nemsis_xml(record: ExportRecord, software: Software | None = None) -> str:
    """The record as a NEMSIS v3.5.1 EMSDataSet document (UTF-8 XML text)."""
    sw = software or Software()
    root = ET.Element(_q("EMSDataSet"), {f"{{{XSI}}}schemaLocation": SCHEMA})
    root.append(ET.Comment(_about(record)))
    header = _sub(root, "Header")
    demographic = _sub(header, "DemographicGroup")
    _sub(demographic, "dAgency.01", sw.agency_id)
    _sub(demographic, "dAgency.02", sw.agency_id)
    report_id = str(uuid.uuid5(_UUIDS, f"{sw.agency_id}|{record.incident_id}"))
    report = _sub(header, "PatientCareReport", attrib={"UUID": report_id})
    _record(_sub(report, "eRecord"), record, sw)
    _response(_sub(report, "eResponse"), record, sw)
    _dispatch(_sub(report, "eDispatch"), record)
    _times(_sub(report, "eTimes"), record)
    _patient(_sub(report, "ePatient"), record)
    _scene(_sub(report, "eScene"), record)
    if record.personal is not None and (record.personal.phone or record.personal.notes):
        _sub(_sub(report, "eNarrative"), "eNarrative.01", _narrative(record))
    _disposition(_sub(report, "eDisposition"), record)
    ET.indent(root, space="   ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _sub(
    parent: ET.Element, name: str, text: str | None = None, attrib: dict[str, str] | None = None
) -> ET.Element:
    element = ET.SubElement(parent, _q(name), attrib or {})
    if text is not None:
        element.text = text
    return element


def _nil(parent: ET.Element, name: str, nv: str) -> None:
    _sub(parent, name, attrib={f"{{{XSI}}}nil": "true", "NV": nv})


def _about(record: ExportRecord) -> str:
    kept = "included" if record.personal is not None else "omitted for this reader's role"
    text = (
        f" jijiu export of incident {record.incident_id}. Personal fields (caller number, "
        f"notes, read-back of the place, exact point): {kept}. "
    )
    return text.replace("--", "- -")  # "--" may not appear inside an XML comment


def _record(e: ET.Element, record: ExportRecord, sw: Software) -> None:
    _sub(e, "eRecord.01", record.incident_id)
    group = _sub(e, "eRecord.SoftwareApplicationGroup")
    _sub(group, "eRecord.02", "jijiu")
    _sub(group, "eRecord.03", "jijiu")
    _sub(group, "eRecord.04", sw.version)


def _response(e: ET.Element, record: ExportRecord, sw: Software) -> None:
    agency = _sub(e, "eResponse.AgencyGroup")
    _sub(agency, "eResponse.01", sw.agency_id)
    _sub(agency, "eResponse.02", sw.agency_name)
    _sub(e, "eResponse.03", record.incident_id)
    if record.unit_id is not None:
        _sub(e, "eResponse.04", f"{record.incident_id}.{record.unit_id}")
    _sub(_sub(e, "eResponse.ServiceGroup"), "eResponse.05", EMERGENCY_RESPONSE)
    if record.unit_id is not None:
        _sub(e, "eResponse.13", record.unit_id)
        _sub(e, "eResponse.14", record.unit_id)
    _sub(e, "eResponse.23", response_mode(record.priority))


def _dispatch(e: ET.Element, record: ExportRecord) -> None:
    _sub(e, "eDispatch.01", DISPATCH_COMPLAINTS[record.complaint])
    _sub(e, "eDispatch.02", EMD_PERFORMED if record.determinant else EMD_NOT_PERFORMED)
    if record.determinant:
        _sub(e, "eDispatch.03", record.determinant)


def _times(e: ET.Element, record: ExportRecord) -> None:
    known = {step.value: at for step, at in record.times if step.value.startswith("eTimes.")}
    missing = NOT_APPLICABLE if record.closed else NOT_RECORDED
    for name in ETIMES:
        at = known.get(name)
        if at is not None:
            _sub(e, name, at.isoformat(timespec="seconds"))
        else:
            _nil(e, name, NOT_RECORDED if name == "eTimes.07" else missing)


def _patient(e: ET.Element, record: ExportRecord) -> None:
    _nil(e, "ePatient.13", NOT_RECORDED)  # gender (v3.5.1 records sex in ePatient.25)
    code = SEXES.get(record.sex or "")
    if code is None:
        _nil(e, "ePatient.25", NOT_RECORDED)
    else:
        _sub(e, "ePatient.25", code)


def _scene(e: ET.Element, record: ExportRecord) -> None:
    _sub(e, "eScene.11", _point(record.lat, record.lon))
    if record.personal is not None and record.personal.address:
        _sub(e, "eScene.20", record.personal.address)  # scene cross street or directions


def _point(lat: float, lon: float) -> str:
    """ "lat,lon" in degrees to 6 decimals (about 0.1 m), as eScene.11 and the CSV reader want."""
    return f"{round(lat, 6)},{round(lon, 6)}"


def _narrative(record: ExportRecord) -> str:
    personal = record.personal
    assert personal is not None
    parts = []
    if personal.phone:
        callback = "may" if personal.callback_allowed else "may not"
        parts.append(f"Caller's number: {personal.phone} (the caller {callback} be called back).")
    if personal.notes:
        parts.append(f"Call-taker's notes: {personal.notes}")
    return " ".join(parts)


def _disposition(e: ET.Element, record: ExportRecord) -> None:
    d = record.destination
    if d is not None:
        group = _sub(e, "eDisposition.DestinationGroup")
        _sub(group, "eDisposition.01", d.name or d.hospital_id)
        _sub(group, "eDisposition.02", d.hospital_id)
        if d.lat is not None and d.lon is not None:
            _sub(group, "eDisposition.09", _point(d.lat, d.lon))
    if record.unit_id is None:
        return
    group = _sub(e, "eDisposition.IncidentDispositionGroup")
    on_scene = record.at(Step.ON_SCENE) is not None
    if not record.cancelled:
        unit = PATIENT_CONTACT
    else:
        unit = CANCELLED_ON_SCENE if on_scene else CANCELLED_BEFORE_SCENE
    _sub(group, "eDisposition.27", unit)
    _sub(group, "eDisposition.30", "4230001" if record.transported else NOT_TRANSPORTED)
