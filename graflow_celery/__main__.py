"""``python -m graflow_celery``: the command line (``graflow_celery/cli``)."""

from graflow_celery.cli import main

main(prog_name="graflow-celery")
