"""An incident as NEMSIS v3.5.1 XML: it parses, its eTimes are the timeline's, and the
personal fields appear only when the record carries them.

The incident is built by hand (no engine run): a P1 chest pain called in at engine time 100 s,
on a clock where engine time 0 is Unix 1,800,000,000 (2027-01-15 08:00:00 UTC, 16:00:00 in
Hangzhou), so each eTimes value can be checked by eye.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

from dispatch.core.engine import Incident
from dispatch.core.export_nemsis import RESPONSE_MODES, nemsis_xml
from dispatch.core.export_record import (
    Destination,
    ExportRecord,
    PersonalFields,
    record_of,
)
from dispatch.core.model import Complaint, IncidentId, Priority, Step, UnitId

CHINA = timezone(timedelta(hours=8))
N = {"n": "http://www.nemsis.org"}
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
TRANSPORTED = {
    Step.CALL_RECEIVED: 100.0,
    Step.LOCATED: 100.0,
    Step.UNIT_NOTIFIED: 160.0,
    Step.UNIT_ACKNOWLEDGED: 170.0,
    Step.EN_ROUTE: 175.0,
    Step.ON_SCENE: 600.0,
    Step.LEFT_SCENE: 1500.0,
    Step.AT_DESTINATION: 2100.0,
    Step.TRANSFER_OF_CARE: 2400.0,
    Step.BACK_IN_SERVICE: 2700.0,
    Step.CLOSED: 2700.0,
}
PERSONAL = PersonalFields("+8613800000077", "door code 1234", "文三路与学院路交叉口附近", True)


def incident(timeline: dict[Step, float]) -> Incident:
    """A P1 chest pain (determinant 10D1) at a point given to 6 decimals, ALS01, to zjpph."""
    return Incident(
        IncidentId("I1"),
        30.280312,
        120.146544,
        12.0,
        None,
        Priority.P1,
        Complaint.CHEST_PAIN,
        determinant="10D1",
        timeline=dict(timeline),
        unit_id=UnitId("ALS01"),
        destination="zjpph",
        sex="female",
    )


def record(
    timeline: dict[Step, float] = TRANSPORTED, personal: PersonalFields | None = None
) -> ExportRecord:
    return record_of(
        incident(timeline),
        wall_of=lambda engine_s: 1_800_000_000.0 + engine_s,
        zone=CHINA,
        patient_id="p" * 32,
        destination=Destination("zjpph", "Zhejiang Provincial People's Hospital", 30.26, 120.17),
        personal=personal,
    )


def parse(rec: ExportRecord) -> ET.Element:
    return ET.fromstring(nemsis_xml(rec).encode())


def text(root: ET.Element, path: str) -> str | None:
    found = root.find(path, N)
    return None if found is None else found.text


def test_the_document_is_an_ems_data_set_shaped_like_the_test_cases() -> None:
    """EMSDataSet > Header > PatientCareReport with eRecord, eResponse, eDispatch, eTimes in
    that order, and the incident id as the report number and incident number."""
    root = parse(record())
    assert root.tag == "{http://www.nemsis.org}EMSDataSet"
    report = root.find("n:Header/n:PatientCareReport", N)
    assert report is not None and report.get("UUID")
    sections = [child.tag.split("}")[1] for child in report]
    assert sections[:4] == ["eRecord", "eResponse", "eDispatch", "eTimes"]
    assert sections[-1] == "eDisposition"
    assert text(report, "n:eRecord/n:eRecord.01") == "I1"
    assert text(report, "n:eResponse/n:eResponse.03") == "I1"
    assert text(report, "n:eResponse/n:eResponse.14") == "ALS01"


def test_etimes_are_the_timeline_in_the_citys_time() -> None:
    """Each eTimes element is its step's time: the call at 100 s is 16:01:40+08:00, the
    handover at 2400 s is 16:40:00+08:00; eTimes.07 (at patient) is nil, not recorded."""
    times = parse(record()).find("n:Header/n:PatientCareReport/n:eTimes", N)
    assert times is not None
    for step, at_s in TRANSPORTED.items():
        if not step.value.startswith("eTimes."):
            continue
        value = text(times, f"n:{step.value}")
        assert value is not None, step
        expected = datetime.fromtimestamp(1_800_000_000 + at_s, UTC).astimezone(CHINA)
        assert datetime.fromisoformat(value) == expected
    assert text(times, "n:eTimes.01") == "2027-01-15T16:01:40+08:00"
    assert text(times, "n:eTimes.12") == "2027-01-15T16:40:00+08:00"
    at_patient = times.find("n:eTimes.07", N)
    assert at_patient is not None and at_patient.get(XSI_NIL) == "true"
    assert at_patient.get("NV") == "7701003"


def test_a_call_cancelled_before_arrival_says_so() -> None:
    """Cancelled while en route: eTimes.06 to .13 are nil "not applicable", the unit was
    cancelled before arriving (4227005) and transported no one (4230013)."""
    cancelled = {s: t for s, t in TRANSPORTED.items() if t <= 175.0}
    cancelled |= {Step.CANCELLED: 300.0, Step.CLOSED: 300.0}
    report = parse(record(cancelled)).find("n:Header/n:PatientCareReport", N)
    assert report is not None
    for name in ("eTimes.06", "eTimes.09", "eTimes.11", "eTimes.12", "eTimes.13"):
        nil = report.find(f"n:eTimes/n:{name}", N)
        assert nil is not None and nil.get("NV") == "7701001", name
    group = "n:eDisposition/n:eDisposition.IncidentDispositionGroup"
    assert text(report, f"{group}/n:eDisposition.27") == "4227005"
    assert text(report, f"{group}/n:eDisposition.30") == "4230013"


def test_response_mode_and_dispatch_codes() -> None:
    """P1 is written 2223001, which the flat NEMSIS reader reads back as P1; chest pain is
    2301021; the determinant 10D1 is eDispatch.03 with EMD performed (2302007)."""
    report = parse(record()).find("n:Header/n:PatientCareReport", N)
    assert report is not None
    mode = text(report, "n:eResponse/n:eResponse.23")
    assert mode == "2223001" and RESPONSE_MODES[mode[-3:]] is Priority.P1
    assert text(report, "n:eDispatch/n:eDispatch.01") == "2301021"
    assert text(report, "n:eDispatch/n:eDispatch.02") == "2302007"
    assert text(report, "n:eDispatch/n:eDispatch.03") == "10D1"
    assert text(report, "n:ePatient/n:ePatient.25") == "9919001"  # female
    assert text(report, "n:eDisposition/n:eDisposition.DestinationGroup/n:eDisposition.02") == (
        "zjpph"
    )


def test_without_personal_fields_there_is_no_number_notes_or_exact_point() -> None:
    """Left out: no eNarrative, no read-back (eScene.20), the point rounded to 3 decimals,
    and a comment saying they were omitted."""
    xml = nemsis_xml(record())
    report = ET.fromstring(xml.encode()).find("n:Header/n:PatientCareReport", N)
    assert report is not None
    assert report.find("n:eNarrative", N) is None
    assert report.find("n:eScene/n:eScene.20", N) is None
    assert text(report, "n:eScene/n:eScene.11") == "30.28,120.147"
    assert "omitted" in xml and "+8613800000077" not in xml and "1234" not in xml


def test_with_personal_fields_the_number_notes_and_read_back_are_in() -> None:
    """A dispatcher's export: the number and notes in eNarrative.01, the read-back in
    eScene.20, the point to 6 decimals."""
    report = parse(record(personal=PERSONAL)).find("n:Header/n:PatientCareReport", N)
    assert report is not None
    narrative = text(report, "n:eNarrative/n:eNarrative.01") or ""
    assert "+8613800000077" in narrative and "door code 1234" in narrative
    assert text(report, "n:eScene/n:eScene.20") == "文三路与学院路交叉口附近"
    assert text(report, "n:eScene/n:eScene.11") == "30.280312,120.146544"
