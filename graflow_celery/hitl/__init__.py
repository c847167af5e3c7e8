"""graflow's ``graflow.hitl`` package path. Tasks ask through ``ctx.request_feedback(...)``."""
