"""The dispatch error tree; the HTTP shell maps each to one status code.

    DispatchError
    ├── UnknownIncident (KeyError)      404: no such incident (or not yours: same answer)
    ├── UnknownUnit (KeyError)          404
    ├── IllegalTransition (ValueError)  409: the incident or unit is not in a state for this
    ├── UnitUnavailable (ValueError)    409: the unit was taken or went off duty meanwhile
    ├── InvalidEvent (ValueError)       422: malformed (NaN, unknown device, time going back)
    └── StoreError (OSError)            503: the event log cannot be reached, refuses to be
                                        durable, or holds a record replay cannot apply

Every refusal happens before any state changes: a refused event leaves the engine as it was.
"""

from __future__ import annotations


class DispatchError(Exception):
    reason: str = "dispatch_error"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.reason


class UnknownIncident(DispatchError, KeyError):
    reason = "unknown_incident"


class UnknownUnit(DispatchError, KeyError):
    reason = "unknown_unit"


class UnknownHospital(DispatchError, KeyError):
    reason = "unknown_hospital"


class IllegalTransition(DispatchError, ValueError):
    reason = "illegal_transition"


class UnitUnavailable(DispatchError, ValueError):
    reason = "unit_unavailable"


class InvalidEvent(DispatchError, ValueError):
    reason = "invalid_event"


class StoreError(DispatchError, OSError):
    reason = "store_unavailable"


class Fenced(StoreError):
    """The event log refused an append: another process holds the writer's lease (a standby
    took over while this one was paused or cut off)."""

    reason = "standby"
