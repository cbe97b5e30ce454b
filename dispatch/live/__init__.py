"""Live fan-out: topics with seq and history (the hub) and the durable feeds logged before they are
published."""
