"""How `tests/data/frozen-log-v1.db` was made: a real server's log, kept so old logs stay readable.

The log is what `jijiu demo` wrote with the code of commit 72fa9fe (before events carried a
version: every body is v1), run from a clean export of that commit:

    git archive 72fa9fe | tar -x -C /tmp/head && cd /tmp/head
    PYTHONPATH=. python -m dispatch demo --minutes 2 --network wulin --units 24 \\
        --calls-per-day 1500 --seed 24 --dir /tmp/frozen-demo
    python -m tests.support.frozen_log /tmp/frozen-demo/events.db tests/data/frozen-log-v1.db

A live city on the Wulin network: 24 units register, 62 calls (some triaged), 35
assignments with every crew device's acknowledgement, crew statuses through transport,
destinations chosen, hospitals acknowledging, patients described, handovers, positions. `compact`
keeps every event byte for byte (seq, time, idempotency key, body) and the first record of each
feed (a hospital's FHIR vitals bundle, the clock anchor), so the file stays small; replay reads
events only. Never regenerate it to make a test pass: a change that cannot read it strands
real logs, and needs an upcaster (`dispatch.store.upcast`).
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from dispatch.store.sqlite_log import FEED_SCHEMA, SCHEMA


def compact(source: Path, dest: Path) -> int:
    """Copy `source`'s events and each feed's first record into a new file `dest`; the
    number of events copied."""
    if dest.exists():
        raise FileExistsError(dest)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    out = sqlite3.connect(dest)
    try:
        out.execute(SCHEMA)
        out.execute(FEED_SCHEMA)
        rows = src.execute("SELECT seq, at_s, idem_key, body FROM events ORDER BY seq").fetchall()
        out.executemany("INSERT INTO events (seq, at_s, idem_key, body) VALUES (?, ?, ?, ?)", rows)
        feed = src.execute(
            "SELECT feed, seq, at_s, body FROM feed WHERE seq = 1 ORDER BY feed"
        ).fetchall()
        out.executemany("INSERT INTO feed (feed, seq, at_s, body) VALUES (?, ?, ?, ?)", feed)
        out.commit()
        out.execute("VACUUM")
    finally:
        src.close()
        out.close()
    return len(rows)


if __name__ == "__main__":
    print(compact(Path(sys.argv[1]), Path(sys.argv[2])), "events copied")
