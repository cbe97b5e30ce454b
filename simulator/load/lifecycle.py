"""Every incident through its whole life, over the server's own API, as a centre works them.

The load test's calls alone leave every incident waiting for a unit, so the open set (and the
server's memory) grows without end; a dispatch centre's stays steady, because each incident is
closed as fast as new ones come. This driver, in a child process of its own
(`simulator.load.loadgen.child`), finds new incidents by polling `GET /api/v1/incidents` and
takes each through one of three lives, chosen by a hash of its id (the same incident always
gets the same one):

    transported  assignment, en_route, on_scene, transporting (the server picks the hospital),
                 at_hospital, handover, available_on_road
    treated      assignment, en_route, on_scene, available_on_road (treated on the spot)
    cancelled    assignment, en_route, cancel (the dispatcher's, before anyone is on scene)

The assignment is the dispatcher's (`POST .../assignment` of the first recommended unit this
driver is not already using; 409, unit taken, tries the next at the next round), the statuses
the crew's (`POST /api/v1/units/{id}/status` with the unit's own token, NEMSIS order), the
handover the crew's too. Each stage waits its `Pace` delay in wall seconds after the one
before, a centre's minutes compressed. At most `MAX_IN_FLIGHT` stages are sent at once, those
of incidents holding a unit first (they free units), and no assignment is tried while every
unit is in use. A stage with no answer, a 429 or a 5xx is sent again later; the poll shows
what each incident's step says was done, so a stage done whose answer was lost is not sent
twice. One refused (4xx) `RETRIES` times gives its job up: the incident is cancelled, so its
unit is free again. Every refusal is counted. The parent asks ("stats",) and gets the counts
back; ("stop",) ends it.

The plan (`Pace`, `STAGES`, `fate_of`, `request_for`, `stage_after`, `transient`) is pure;
the driver is the shell.
"""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from multiprocessing.connection import Connection
from typing import Any

from simulator.load.loadgen import HOST, HttpPool, run_child

POLL_S = 2.0  # how often the open incidents are read
RETRIES = 5  # a stage refused (4xx) this many times gives its job up
RETRY_S = 1.0  # before a refused stage (or an assignment with no unit free) is tried again
BACKOFF_S = 2.0  # after no answer, a 429 or a 5xx (longer than a poll: it may have been done)
MAX_IN_FLIGHT = 16  # stages sent at once: the driver is one dispatch room, not a flood
# The last stage an incident's step says was done (its NEMSIS eTimes element, as the
# incident view shows it): a stage whose answer was lost is seen done at the next poll.
DONE_BY_STEP: Mapping[str, str] = {
    "eTimes.03": "assign",
    "eTimes.04": "assign",
    "eTimes.05": "en_route",
    "eTimes.06": "on_scene",
    "eTimes.09": "transporting",
    "eTimes.11": "at_hospital",
    "eTimes.12": "handover",
}


class Fate(StrEnum):
    TRANSPORTED = "transported"
    TREATED = "treated"
    CANCELLED = "cancelled"


STAGES: Mapping[Fate, tuple[str, ...]] = {
    Fate.TRANSPORTED: (
        "assign",
        "en_route",
        "on_scene",
        "transporting",
        "at_hospital",
        "handover",
        "available_on_road",
    ),
    Fate.TREATED: ("assign", "en_route", "on_scene", "available_on_road"),
    Fate.CANCELLED: ("assign", "en_route", "cancel"),
}


@dataclass(frozen=True)
class Pace:
    """Wall seconds each stage waits after the one before, and the shares of the lives."""

    assign_s: float = 2.0  # call-taking: from the incident seen to the unit sent
    en_route_s: float = 1.0  # turnout
    on_scene_s: float = 6.0  # driving to the scene
    transporting_s: float = 4.0  # on scene, before leaving with the patient
    at_hospital_s: float = 6.0  # driving to the hospital
    handover_s: float = 2.0  # offload
    available_on_road_s: float = 2.0  # clearing after the handover or the treatment
    cancel_s: float = 3.0  # from en route to the dispatcher's cancel
    cancelled_share: float = 0.1
    treated_share: float = 0.3

    def __post_init__(self) -> None:
        for name in ("cancelled_share", "treated_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is a fraction, not {getattr(self, name)!r}")
        if self.cancelled_share + self.treated_share > 1:
            raise ValueError("cancelled_share + treated_share is at most 1")
        if any(v < 0 for k, v in self.__dict__.items() if k.endswith("_s")):
            raise ValueError("a stage's delay is a non-negative number of seconds")

    def scaled(self, factor: float) -> Pace:
        """The same lives, every delay times `factor` (a shorter life: fewer units busy)."""
        delays = {k: v * factor for k, v in self.__dict__.items() if k.endswith("_s")}
        return replace(self, **delays)

    def delay_s(self, stage: str) -> float:
        return float(getattr(self, f"{stage}_s"))

    def life_s(self, fate: Fate) -> float:
        """Seconds from the incident seen to its last stage, with no wait for a unit."""
        return sum(self.delay_s(stage) for stage in STAGES[fate])

    def mean_life_s(self) -> float:
        shares = {
            Fate.CANCELLED: self.cancelled_share,
            Fate.TREATED: self.treated_share,
            Fate.TRANSPORTED: 1 - self.cancelled_share - self.treated_share,
        }
        return sum(share * self.life_s(fate) for fate, share in shares.items())

    def steady_open(self, rate: float) -> float:
        """Incidents open at once in the steady state at `rate` calls/s (Little's law), with
        the poll's half period added to each life."""
        return rate * (self.mean_life_s() + POLL_S / 2)


def fate_of(incident_id: str, pace: Pace, seed: int = 0) -> Fate:
    """The life of this incident: a hash of its id and `seed` against the shares."""
    u = zlib.crc32(f"{seed}:{incident_id}".encode()) / 2**32
    if u < pace.cancelled_share:
        return Fate.CANCELLED
    if u < pace.cancelled_share + pace.treated_share:
        return Fate.TREATED
    return Fate.TRANSPORTED


def request_for(
    stage: str, incident_id: str, unit_id: str | None
) -> tuple[str, dict[str, Any], str]:
    """(path, JSON body, whose token: "dispatcher" or "unit") of one stage's POST."""
    if stage == "assign":
        body = {"unit_id": unit_id, "confirm_conflict": True}  # a place conflict: confirmed
        return f"/api/v1/incidents/{incident_id}/assignment", body, "dispatcher"
    if stage == "cancel":
        return f"/api/v1/incidents/{incident_id}/cancel", {"reason": "soak"}, "dispatcher"
    if unit_id is None:
        raise ValueError(f"stage {stage} needs the incident's unit")
    if stage == "handover":
        return f"/api/v1/incidents/{incident_id}/handover", {}, "unit"
    return f"/api/v1/units/{unit_id}/status", {"status": stage}, "unit"


def stage_after(fate: Fate, step: str) -> int | None:
    """The index of the stage due next for an incident of `fate` whose view shows `step`;
    None when the step says nothing this life has done."""
    done = DONE_BY_STEP.get(step)
    stages = STAGES[fate]
    return stages.index(done) + 1 if done in stages else None


def transient(status: int) -> bool:
    """No answer (0), too many requests or a server error: try the same again later."""
    return status == 0 or status == 429 or status >= 500


@dataclass
class Job:
    """One incident the driver is working: its life, the next stage and when it is due."""

    incident_id: str
    fate: Fate
    due_at_s: float
    stage: int = 0
    unit_id: str | None = None
    tries: int = 0

    @property
    def next_stage(self) -> str:
        return STAGES[self.fate][self.stage]


@dataclass
class Tally:
    """What the driver did, cumulative; `open_now` and `open_max` from the polls."""

    seen: int = 0
    closed: Counter[str] = field(default_factory=Counter)  # by fate
    refused: Counter[str] = field(default_factory=Counter)  # "stage status" -> count
    given_up: int = 0
    no_unit: int = 0  # assignment rounds with every recommended unit in use
    resynced: int = 0  # stages found done by a poll (their answer was lost)
    requests: int = 0
    open_now: int = 0
    open_max: int = 0
    polls: int = 0

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["closed"], out["refused"] = dict(self.closed), dict(self.refused)
        return out


# --- the shell -----------------------------------------------------------------------------------
def lifecycle_main(
    conn: Connection,
    port: int,
    tokens: dict[str, Any],
    pace: Pace,
    seed: int,
    deadline_s: float,
    host: str = HOST,
) -> None:
    """The child process: drive incidents until ("stop",) or the deadline."""
    run_child(Driver(host, port, tokens, pace, seed).run(conn), deadline_s)


class Driver:
    """Polls the open incidents, keeps a `Job` per incident, runs each due stage."""

    def __init__(self, host: str, port: int, tokens: dict[str, Any], pace: Pace, seed: int) -> None:
        self.pool = HttpPool(port, host)
        self.dispatcher = str(tokens["dispatcher"])
        self.unit_tokens: dict[str, str] = dict(tokens["units"])
        self.pace, self.seed = pace, seed
        self.jobs: dict[str, Job] = {}
        self.busy: set[str] = set()  # units this driver assigned and has not yet released
        self.running: set[str] = set()  # incidents with a stage in flight
        self.finished: set[str] = set()  # closed or given up: a later poll may still list it
        self.tally = Tally()

    async def run(self, conn: Connection) -> None:
        tasks: set[asyncio.Task[None]] = set()
        next_poll = 0.0
        try:
            while True:
                while conn.poll(0):
                    command = conn.recv()
                    if command[0] == "stop":
                        return
                    conn.send(("stats", self.tally.as_dict()))
                now = time.monotonic()
                if now >= next_poll:
                    await self._poll(now)
                    next_poll = now + POLL_S
                for job in self._due(now):
                    if len(self.running) >= MAX_IN_FLIGHT:
                        break
                    if job.incident_id not in self.running:
                        self.running.add(job.incident_id)
                        task = asyncio.create_task(self._advance(job))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                await asyncio.sleep(0.05)
        finally:
            for task in tasks:
                task.cancel()
            self.pool.close()

    def _due(self, now: float) -> list[Job]:
        """The jobs due now, those holding a unit first (their stages free units; a queue of
        assignments must not hold them up), none waiting for a unit while every one is busy."""
        free = len(self.busy) < len(self.unit_tokens)
        due = [
            j for j in self.jobs.values() if j.due_at_s <= now and (j.unit_id is not None or free)
        ]
        return sorted(due, key=lambda j: (j.unit_id is None, j.due_at_s))

    async def _send(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        raw = json.dumps(body).encode() if body is not None else b""
        self.tally.requests += 1
        try:
            status, answer, _, _ = await self.pool.send(
                method, path, raw, {"Authorization": f"Bearer {token}"}
            )
        except (OSError, TimeoutError) as exc:
            return 0, type(exc).__name__
        try:
            return status, json.loads(answer) if answer else None
        except ValueError:
            return status, None

    async def _poll(self, now: float) -> None:
        status, listed = await self._send("GET", "/api/v1/incidents", self.dispatcher)
        if status != 200 or not isinstance(listed, list):
            self.tally.refused[f"poll {status}"] += 1
            return
        self.tally.polls += 1
        views = {str(i["incident_id"]): i for i in listed if i.get("open", True)}
        open_ids = set(views)
        self.tally.open_now = len(open_ids)
        self.tally.open_max = max(self.tally.open_max, len(open_ids))
        for iid in sorted(open_ids - self.jobs.keys() - self.finished):
            fate = fate_of(iid, self.pace, self.seed)
            self.jobs[iid] = Job(iid, fate, now + self.pace.delay_s("assign"))
            self.tally.seen += 1
        for iid, job in self.jobs.items():  # a stage done whose answer was lost
            nxt = stage_after(job.fate, str(views.get(iid, {}).get("step", "")))
            if iid not in self.running and nxt is not None and nxt > job.stage:
                unit = views[iid].get("unit_id")
                if unit and unit != job.unit_id:
                    self.busy.discard(job.unit_id or "")
                    job.unit_id = str(unit)
                    self.busy.add(job.unit_id)
                job.stage, job.tries = min(nxt, len(STAGES[job.fate]) - 1), 0
                self.tally.resynced += 1
        for iid in list(self.jobs.keys() - open_ids):  # closed meanwhile (by us, or anyone)
            if iid not in self.running:
                self._drop(self.jobs[iid])

    def _drop(self, job: Job) -> None:
        self.jobs.pop(job.incident_id, None)
        if job.unit_id is not None:
            self.busy.discard(job.unit_id)

    async def _advance(self, job: Job) -> None:
        """Run the job's next stage; move it on, retry it later, or give it up."""
        try:
            stage = job.next_stage
            if stage == "assign" and job.unit_id is None:
                answered, job.unit_id = await self._pick_unit(job.incident_id)
                if job.unit_id is None:
                    self.tally.no_unit += answered
                    job.due_at_s = time.monotonic() + (RETRY_S if answered else BACKOFF_S)
                    return
                self.busy.add(job.unit_id)
            path, body, whose = request_for(stage, job.incident_id, job.unit_id)
            unit = job.unit_id or ""
            token = self.dispatcher if whose == "dispatcher" else self.unit_tokens.get(unit, "")
            status, _ = await self._send("POST", path, token, body)
            if 200 <= status < 300:
                job.stage, job.tries = job.stage + 1, 0
                if job.stage == len(STAGES[job.fate]):
                    self.tally.closed[job.fate.value] += 1
                    self.finished.add(job.incident_id)
                    self._drop(job)
                else:
                    job.due_at_s = time.monotonic() + self.pace.delay_s(job.next_stage)
                return
            self.tally.refused[f"{stage} {status}"] += 1
            if transient(status):  # the same again, later (the poll sees it if it was done)
                job.due_at_s = time.monotonic() + BACKOFF_S
                return
            if stage == "assign" and job.unit_id is not None:  # taken meanwhile: another one
                self.busy.discard(job.unit_id)
                job.unit_id = None
            job.tries += 1
            job.due_at_s = time.monotonic() + RETRY_S
            if job.tries >= RETRIES:
                await self._give_up(job)
        finally:
            self.running.discard(job.incident_id)

    async def _give_up(self, job: Job) -> None:
        """Stop working a job; cancel its incident (best effort) so its unit is free again."""
        self.tally.given_up += 1
        self.finished.add(job.incident_id)
        self._drop(job)
        path, body, _ = request_for("cancel", job.incident_id, job.unit_id)
        await self._send("POST", path, self.dispatcher, body)

    async def _pick_unit(self, incident_id: str) -> tuple[bool, str | None]:
        """(answered, the first recommended unit this driver is not using, or None)."""
        path = f"/api/v1/incidents/{incident_id}/recommendations"
        status, options = await self._send("GET", path, self.dispatcher)
        if status != 200 or not isinstance(options, list):
            self.tally.refused[f"recommendations {status}"] += 1
            return False, None
        for option in options:
            unit_id = str(option.get("unit_id", ""))
            if unit_id in self.unit_tokens and unit_id not in self.busy:
                return True, unit_id
        return True, None
