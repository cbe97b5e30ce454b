"""The simulated world: calls, the daily rhythm, demand zones, stations, road reach, traffic,
replayed logs."""
