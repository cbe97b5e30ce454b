"""The routing core: a road network compiled into arrays, and fast searches over it.

Import the submodules you need (`routing.load` to read a network, `routing.router` for the
query facade); this package file stays empty so importing the core never drags in a loader.
"""
