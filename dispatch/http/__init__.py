"""The HTTP shell: the FastAPI app, one router module per resource, the pages and their static
files."""
