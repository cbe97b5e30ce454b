"""The long schemathesis run behind `make fuzz` (issue 22): every operation of the OpenAPI
document against `jijiu serve` in its own process on loopback, with the project's own role
tokens, `FUZZ_CASES` cases in all (seeded by `FUZZ_SEED`), and a report.

Not collected by `make test` (the name has no `test_` prefix; `make fuzz` names the file, and
the bounded in-CI pass is `test_fuzz_openapi.py`). Each operation gets schemathesis's coverage
cases, then random cases that fit its schema and cases that break it, alternating, until its
share of the budget is spent (an operation whose inputs run out hands its unused share on).
Every answer is checked: no 5xx, a documented status code, a body that matches its documented
schema. A progress line goes to stdout every `PROGRESS_EVERY` cases. The report (`FUZZ_REPORT`,
default `bench-report/fuzz/`): `report.json` and `report.md` with the cases per operation, the
status histogram and each failure, shrunk by hypothesis, with every token replaced by its role."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from simulator.load.servers import Served, jijiu_serve

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.response_schema_conformance,
]
PROGRESS_EVERY = 1000  # cases between two progress lines
TEXT_MAX = 600  # characters of a body or a message kept in a reproduction


@dataclass
class Tally:
    """Cases, statuses and failures of the whole run, by operation."""

    total_cases: int
    cases: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    started_s: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> int:
        return sum(self.cases.values())

    def count(self, name: str, status: int) -> None:
        self.cases[name] += 1
        self.statuses.setdefault(name, Counter())[status] += 1
        if self.done % PROGRESS_EVERY == 0:
            rate = self.done / max(time.monotonic() - self.started_s, 1e-9)
            print(
                f"fuzz: {self.done:,}/{self.total_cases:,} cases, {rate:.0f}/s, "
                f"{len(self.statuses)} operations so far, {len(self.failures)} failures",
                flush=True,
            )


class Redactor:
    """Replaces every token the server gave us with `<role token>` in a text."""

    def __init__(self, tokens: dict[str, Any], volunteer: str) -> None:
        self.names: dict[str, str] = {volunteer: "<volunteer token>"}
        for role, value in tokens.items():
            if isinstance(value, dict):
                self.names.update({str(v): f"<{role} token>" for v in value.values()})
            elif role != "secret":
                self.names[str(value)] = f"<{role} token>"
        self.names[str(tokens.get("secret", ""))] = "<secret>"
        self.names.pop("", None)

    def __call__(self, text: str) -> str:
        for token, name in self.names.items():
            text = text.replace(token, name)
        return text


def role_token(
    tokens: dict[str, Any], path: str, method: str, volunteer: str, caller: str = ""
) -> str:
    """The role a real client of `path` holds: a unit on /units, a hospital on /hospitals, an
    agency on its feed, a volunteer on /me, the traffic feed on its writes, a caller on its
    further fixes, else the dispatcher."""
    first = {k: str(next(iter(v.values()))) for k, v in tokens.items() if isinstance(v, dict) and v}
    if path.startswith("/api/v1/units/") and "units" in first:
        return first["units"]
    if path.startswith("/api/v1/hospitals/") and "hospitals" in first:
        return first["hospitals"]
    if path.startswith("/api/v1/agencies/") and "agencies" in first:
        return first["agencies"]
    if path.startswith("/api/v1/volunteers/me"):
        return volunteer
    if path == "/api/v1/calls/{incident_id}/fixes" and caller:
        return caller
    if path.startswith("/api/v1/traffic") and method != "get":
        return str(tokens["traffic"])
    return str(tokens["dispatcher"])


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """`jijiu serve` on Wulin with two units, offers that never time out, rate limits far
    above what the fuzzer sends (it explores the inputs, `test_rate_limit.py` the limits)."""
    env = {
        "JIJIU_ACK_TIMEOUT_S": "3600",
        "JIJIU_READS_PER_MIN": "1000000",
        "JIJIU_READS_BURST": "1000000",
    }
    with (
        tempfile.TemporaryDirectory(prefix="jijiu-fuzz-") as tmp,
        jijiu_serve("wulin", 2, f"sqlite:///{tmp}/events.db", Path(tmp), 300, extra_env=env) as srv,
    ):
        yield srv


@pytest.mark.timeout(6 * 3600)  # the suite's 300 s is for bounded tests; this one is FUZZ_CASES
def test_fuzz_every_operation(served: Served) -> None:
    """FUZZ_CASES seeded cases over every operation: no 5xx and no answer off its schema."""
    total = int(os.environ.get("FUZZ_CASES", "50000"))
    fuzz_seed = int(os.environ.get("FUZZ_SEED", "22"))
    out = Path(os.environ.get("FUZZ_REPORT", "bench-report/fuzz"))
    spec = httpx.get(f"{served.base}/openapi.json").json()
    volunteer = httpx.post(
        f"{served.base}/api/v1/volunteers",
        json={"phone": "+8613911118888"},
        headers={"Idempotency-Key": "fuzz-volunteer"},
    ).json()
    schema = schemathesis.openapi.from_dict(spec)
    operations = [result.ok() for result in schema.get_all_operations()]
    with requests.Session() as session:
        run = Run(
            served.base,
            session,
            Tally(total),
            Redactor(served.tokens, volunteer["token"]),
            known_ids(served, volunteer["volunteer_id"]),
        )
        caller = run.known.pop("caller_token")
        run.redact.names[caller] = "<caller token>"
        for sweep in range(3):  # a second sweep only if inputs ran out before the budget
            for index, operation in enumerate(operations):
                budget = (total - run.tally.done) // (len(operations) - index)
                token = role_token(
                    served.tokens, operation.path, operation.method, volunteer["token"], caller
                )
                run_operation(
                    schema, operation, run, token, budget, fuzz_seed + 1000 * sweep, sweep
                )
            if run.tally.done >= total:
                break
    report = summary(run.tally, fuzz_seed, time.monotonic() - run.tally.started_s, spec)
    write_report(report, out)
    print(f"fuzz: {run.tally.done:,} cases, {len(run.tally.failures)} failures; report in {out}/")
    assert run.tally.failures == [], f"{len(run.tally.failures)} failures, see {out}/report.md"


@dataclass
class Run:
    """What every case of the run shares: the server, one HTTP session, the tally, the
    redactor and real ids to put in paths."""

    base: str
    session: requests.Session
    tally: Tally
    redact: Redactor
    known: dict[str, str]  # path parameter -> an id the server knows
    sent: int = 0

    def call(self, case: Any, headers: dict[str, str]) -> Any:
        """Send `case`; every other one with the path's ids replaced by real ones, so the
        fuzzer reaches past the 404 of an unknown id."""
        self.sent += 1
        if self.sent % 2 == 0:
            for name, value in self.known.items():
                if name in (case.path_parameters or {}):
                    case.path_parameters[name] = value
        return case.call(base_url=self.base, session=self.session, headers=headers, timeout=30)


def known_ids(served: Served, volunteer_id: str) -> dict[str, str]:
    """Ids the server knows, by path parameter: an incident (a call made here), the unit,
    hospital and agency whose tokens `role_token` uses, the volunteer registered; and the
    call's caller token (`caller_token`, taken out before use)."""
    call = {
        "phone": "+8613911116666",
        "consent_location": True,
        "fix": {"lat": 30.2803, "lon": 120.1465, "accuracy_m": 12},
        "complaint": "chest_pain",
    }
    made = httpx.post(
        f"{served.base}/api/v1/calls", json=call, headers={"Idempotency-Key": "fuzz-call"}
    ).json()
    first = {k: next(iter(v)) for k, v in served.tokens.items() if isinstance(v, dict) and v}
    known = {
        "incident_id": made["incident_id"],
        "volunteer_id": volunteer_id,
        "caller_token": made["caller_token"],
    }
    for parameter, role in (
        ("unit_id", "units"),
        ("hospital_id", "hospitals"),
        ("agency_id", "agencies"),
    ):
        if role in first:
            known[parameter] = str(first[role])
    return known


def run_operation(
    schema: Any, operation: Any, run: Run, token: str, budget: int, fuzz_seed: int, sweep: int
) -> None:
    """Coverage cases (first sweep only), then positive and negative random cases until
    `budget` is spent."""
    name = f"{operation.method.upper()} {operation.path}"
    headers = {"Authorization": f"Bearer {token}"}
    start = run.tally.done
    coverage = schema.iter_coverage_cases(
        operation,
        generation_modes=list(GenerationMode),
        generation_config=schema.config.generation_for(operation=operation),
    )
    for case in coverage if sweep == 0 else ():
        if run.tally.done - start >= budget:
            return
        if not check_case(case, run, headers, name):
            break  # one failure per operation and phase says enough
    rounds = 0
    while run.tally.done - start < budget and rounds < 8:
        before = run.tally.done
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            left = budget - (run.tally.done - start)
            if left > 0:
                random_cases(operation, mode, run, headers, name, left // 2 + 1, fuzz_seed + rounds)
        rounds += 1
        if run.tally.done == before:  # nothing more to generate for this operation
            return


def random_cases(
    operation: Any,
    mode: GenerationMode,
    run: Run,
    headers: dict[str, str],
    name: str,
    examples: int,
    fuzz_seed: int,
) -> None:
    """Up to `examples` seeded cases of `mode`; a failure is shrunk by hypothesis, and the
    shrunk case is the one reported."""
    last: list[dict[str, Any]] = []

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @seed(fuzz_seed)
    def fuzz(case: Any) -> None:
        response = run.call(case, headers)
        run.tally.count(name, response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as exc:
            last[:] = [reproduction(case, response, exc, name, mode.value, run.redact)]
            raise

    try:
        fuzz()
    except Unsatisfiable:  # nothing to break: no parameter, or only an enum in the path
        return
    except Exception:  # the shrunk failure is in `last`; every operation runs regardless
        if last:
            run.tally.failures.append(last[0])


def check_case(case: Any, run: Run, headers: dict[str, str], name: str) -> bool:
    """Call and check one coverage case; False (and the failure recorded) when it failed."""
    response = run.call(case, headers)
    run.tally.count(name, response.status_code)
    try:
        case.validate_response(response, checks=CHECKS)
    except Exception as exc:
        run.tally.failures.append(reproduction(case, response, exc, name, "coverage", run.redact))
        return False
    return True


def reproduction(
    case: Any, response: Any, exc: Exception, name: str, phase: str, redact: Redactor
) -> dict[str, Any]:
    """What one failure needs to be replayed by hand, tokens replaced by their roles."""
    sent_headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    body = case.body if not isinstance(case.body, bytes) else case.body.decode(errors="replace")
    return {
        "operation": name,
        "phase": phase,
        "method": case.method,
        "path": redact(str(case.formatted_path)),
        "query": json.loads(redact(json.dumps(case.query or {}, default=str))),
        "headers": json.loads(redact(json.dumps(sent_headers, default=str))),
        "body": redact(json.dumps(body, default=str, ensure_ascii=False))[:TEXT_MAX],
        "status": response.status_code,
        "answer": redact(response.text)[:TEXT_MAX],
        "check": redact(str(exc).strip())[:TEXT_MAX],
        "auth": "Authorization: Bearer <the role token for this path>",
    }


def summary(tally: Tally, fuzz_seed: int, wall_s: float, spec: dict[str, Any]) -> dict[str, Any]:
    """The run's figures as one JSON-able dict."""
    histogram: Counter[int] = Counter()
    for counts in tally.statuses.values():
        histogram.update(counts)
    return {
        "cases": tally.done,
        "requested_cases": tally.total_cases,
        "seed": fuzz_seed,
        "wall_s": round(wall_s, 1),
        "operations": len(tally.cases),
        "openapi_operations": sum(len(v) for v in spec.get("paths", {}).values()),
        "server_errors": sum(n for status, n in histogram.items() if status >= 500),
        "failures": tally.failures,
        "status_histogram": {str(k): v for k, v in sorted(histogram.items())},
        "per_operation": {
            name: {
                "cases": tally.cases[name],
                "statuses": {str(k): v for k, v in sorted(tally.statuses[name].items())},
            }
            for name in sorted(tally.cases)
        },
        "checks": [c.__name__ for c in CHECKS],
    }


def write_report(report: dict[str, Any], out: Path) -> None:
    """report.json (every figure) and report.md (the tables) in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    lines = [
        "# Fuzz report (schemathesis against `jijiu serve`)",
        "",
        f"Command: `make fuzz FUZZ_CASES={report['requested_cases']} FUZZ_SEED={report['seed']}`. "
        f"{report['cases']:,} cases over {report['operations']} operations "
        f"(of {report['openapi_operations']} in the OpenAPI document) in {report['wall_s']:.0f} s; "
        f"{report['server_errors']} answers 5xx; {len(report['failures'])} failures. "
        f"Checks: {', '.join(report['checks'])}.",
        "",
        "## Status codes",
        "",
        "| status | answers |",
        "|---|---|",
        *(f"| {k} | {v:,} |" for k, v in report["status_histogram"].items()),
        "",
        "## Cases per operation",
        "",
        "| operation | cases | statuses |",
        "|---|---|---|",
        *(
            f"| `{name}` | {row['cases']:,} | "
            + ", ".join(f"{k}: {v}" for k, v in row["statuses"].items())
            + " |"
            for name, row in report["per_operation"].items()
        ),
        "",
        "## Failures",
        "",
    ]
    if not report["failures"]:
        lines.append("None.")
    for failure in report["failures"]:
        lines += [
            f"### {failure['operation']} ({failure['phase']})",
            "",
            "```json",
            json.dumps(failure, indent=2, ensure_ascii=False),
            "```",
            "",
        ]
    (out / "report.md").write_text("\n".join(lines) + "\n")
