"""The dispatch service: engine, log and fan-out driven in one order per event, and what clients
are shown."""
