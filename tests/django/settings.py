"""The example shop's settings as the tests run it (``conftest.py``): the shop's own, with the
outbox grace period ``conftest.py`` gives (a few seconds), so that a worker's sweep starts a run
whose process died soon (``test_outbox.py``)."""

import os

from shop.settings import *  # noqa: F403

CELERY_GRAFLOW_OUTBOX_GRACE = float(os.environ["GRAFLOW_TEST_OUTBOX_GRACE"])
