"""The dispatch core: ids, events, the incident state machine, recommendation, MCI plan, cockpit
figures, traffic maths. Pure: no asyncio, no web framework, no store."""
