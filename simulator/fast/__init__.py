"""The fast engine: a discrete-event loop on a virtual clock driving the real dispatch engine, and
the policy study."""
