"""graflow's ``graflow.core.handlers`` package path."""
