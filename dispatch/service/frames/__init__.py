"""Declared wire frames of every websocket, one module per socket; JSON Schema in `schemas`."""
