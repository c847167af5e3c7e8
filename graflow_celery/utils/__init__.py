"""graflow's ``graflow.utils`` paths: ``graflow_celery.utils.graph`` draws graphs."""
