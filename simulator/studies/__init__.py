"""Studies on the simulated world: CPR volunteers against the ambulance."""
