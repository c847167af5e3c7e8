"""graflow's ``graflow.hitl`` package path: the feedback types (``types.py``) and the callbacks on a
request (``handler.py``). Tasks ask through ``ctx.request_feedback(...)``."""
