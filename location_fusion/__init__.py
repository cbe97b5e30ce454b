"""Location fusion: turns a caller's fixes (GPS, Wi-Fi, cell, address) into one estimate.

A pure core: fixes with accuracy, source and time go in, an estimate with its uncertainty
comes out; it is handed the time and never does I/O.
"""
