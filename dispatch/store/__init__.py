"""The durable event log: its contract, the SQLite and Redis stores, group commit, the codec and
replay."""
