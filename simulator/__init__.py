"""The simulator: drives the dispatch engine with seeded synthetic or replayed calls.

It will own the call arrival process, unit movement along routed paths and the scoring of a
run, feeding the engine events with their times so thousands of events run per second.
"""
