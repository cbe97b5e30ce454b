"""The load harness: `jijiu loadtest` and the server and vitals benchmarks' servers, fleets,
callers, fan-out peer and latency bookkeeping (the vitals load in `vitals/`)."""
