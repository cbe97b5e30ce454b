"""Append events to an event log until killed; print "seq key" once each append returned.

    python tests/dispatch/store/eventlog_writer.py URL FIRST COUNT

Keys are k<FIRST> ... k<FIRST+COUNT-1>. A printed line is an acknowledgement: the kill test
SIGKILLs this process at a random moment and then checks every printed key is in the log.
"""

from __future__ import annotations

import sys

from dispatch.store.eventlog import open_log


def main(url: str, first: int, count: int) -> None:
    log = open_log(url)
    for i in range(first, first + count):
        event = {"type": "UnitPositionReported", "unit_id": "A1", "lat": 30.28, "lon": 120.14}
        record, _ = log.append(float(i), event, idem_key=f"k{i}")
        sys.stdout.write(f"{record.seq} k{i}\n")
        sys.stdout.flush()
    log.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
