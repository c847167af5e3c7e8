"""graflow's ``graflow.coordination`` package path (``core/coordination.py``)."""
