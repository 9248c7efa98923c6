"""Private helpers shared by every layer: the numba cache location, the one time budget,
input validation, atomic file writes.  Nothing here imports a mathematical layer."""
