"""The dispatch engine: calls, incidents, units, assignments and the incident state machine.

Its core is a pure `receive(event, now_s)` / `decisions()` engine that the simulator drives
directly and an event log replays after a crash; the thin async shell (the FastAPI app,
websocket hubs and event-log stores) and the `jijiu` command line live here too, in their own
modules, so importing this package alone pulls in none of them.
"""
