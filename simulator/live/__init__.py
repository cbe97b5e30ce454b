"""The live city: simulated callers, tablets, dispatchers and hospitals driving a running server
over loopback."""
