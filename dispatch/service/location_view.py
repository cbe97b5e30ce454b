"""What the console is shown of a call's location evidence: each source beside the estimate.

Pure: the evidence the server kept for a call (`CallEvidence`), the estimate fused from it, and
the serving cell's sector go in; a JSON-safe view comes out, for the console to draw the
handset fixes (point and 95 % circle), the cell's wedge (or its circle for an omni cell), the
places the caller's words matched (name, kind, score) and which of them the conflict alarm
names. Source names are fusion's: a fix by its kind (`gnss`, `wifi`, `cell`, `fused`),
`cell_sector` for the serving cell, `speech` for the words (location_fusion.fuse).
"""

from __future__ import annotations

import math
from typing import Any

from location_fusion.cells import CellObservation, Sector
from location_fusion.fixes import DeviceFix
from location_fusion.fuse import Conflict
from location_fusion.locate import CallEvidence, Estimate
from location_fusion.sources import fix_r95

CELL_SOURCE = "cell_sector"
SPEECH_SOURCE = "speech"


def evidence_time_s(evidence: CallEvidence, fallback_s: float) -> float:
    """When the evidence was last added to: its newest fix or cell observation, else the
    fallback. Fusing at this time repeats the estimate the server made when it arrived."""
    times = [f.observed_at_s for f in evidence.fixes]
    if evidence.cell is not None:
        times.append(evidence.cell.observed_at_s)
    return max(times) if times else fallback_s


def conflict_body(conflict: Conflict | None) -> dict[str, Any] | None:
    """The conflict alarm as the wire carries it: the sources named, metres apart, message."""
    if conflict is None:
        return None
    return {
        "sources": list(conflict.sources),
        "distance_m": conflict.distance_m,
        "message": conflict.message,
    }


def _named(conflict: Conflict | None, source: str) -> bool:
    return conflict is not None and source in conflict.sources


def fix_view(fix: DeviceFix, now_s: float, conflict: Conflict | None) -> dict[str, Any]:
    """One handset fix: its point, its stated accuracy and its 95 % radius (m), age (s)."""
    return {
        "source": fix.source,
        "lat": fix.lat,
        "lon": fix.lon,
        "accuracy_m": fix.accuracy_m,
        "confidence": fix.confidence,
        "radius95_m": round(fix_r95(fix), 1),
        "age_s": round(max(0.0, now_s - fix.observed_at_s), 1),
        "in_conflict": _named(conflict, fix.source),
    }


def cell_view(
    observation: CellObservation, sector: Sector | None, conflict: Conflict | None
) -> dict[str, Any]:
    """The carrier's serving cell: the wedge it implies (site, boresight clockwise from north,
    half width, radial band in metres), or `known: false` when the cell table lacks it."""
    view: dict[str, Any] = {
        "source": CELL_SOURCE,
        "radio": observation.radio,
        "cell": list(observation.key),
        "timing_advance": observation.timing_advance,
        "known": sector is not None,
        "in_conflict": _named(conflict, CELL_SOURCE),
    }
    if sector is not None:
        view.update(
            site_lat=sector.lat,
            site_lon=sector.lon,
            omni=sector.omni,
            azimuth_deg=None if sector.omni else sector.azimuth_deg,
            half_width_deg=180.0 if sector.omni else sector.half_width_deg,
            r_min_m=round(sector.r_min_m, 1),
            r_max_m=round(sector.r_max_m, 1),
        )
    return view


def sources_view(
    evidence: CallEvidence,
    estimate: Estimate | None,
    sector: Sector | None,
    now_s: float,
) -> dict[str, Any]:
    """Every source of a call's evidence and the estimate fused from it (module docstring).

    `estimate` is None only when nothing in the evidence could be located (then every source
    is listed as received, with no shares and no conflict).
    """
    conflict = estimate.conflict if estimate is not None else None
    shares: dict[str, float] = {}  # each source's share of the estimate; fixes by kind
    for part in estimate.sources if estimate is not None else ():
        shares[part.source] = shares.get(part.source, 0.0) + part.weight
    spoken: dict[str, Any] | None = None
    if evidence.spoken:
        candidates = estimate.candidates if estimate is not None else ()
        spoken = {
            "source": SPEECH_SOURCE,
            "text": evidence.spoken,
            "in_conflict": _named(conflict, SPEECH_SOURCE),
            "candidates": [
                {
                    "name": p.name,
                    "kind": p.kind,
                    "lat": p.lat,
                    "lon": p.lon,
                    "radius_m": round(p.radius_m, 1),
                    "score": round(p.confidence, 3),
                }
                for p in candidates
            ],
        }
    fused: dict[str, Any] | None = None
    if estimate is not None:
        fused = {
            "lat": estimate.lat,
            "lon": estimate.lon,
            "radius95_m": estimate.radius95_m,
            "description": estimate.description,
            "shares": {k: round(v, 3) for k, v in shares.items() if math.isfinite(v)},
        }
    return {
        "fixes": [fix_view(f, now_s, conflict) for f in evidence.fixes],
        "cell": cell_view(evidence.cell, sector, conflict) if evidence.cell is not None else None,
        "spoken": spoken,
        "fused": fused,
        "conflict": conflict_body(conflict),
    }
