"""Eager mode as a Django project's tests meet it: a Django ``TestCase``, run by pytest, with the
project's Celery app configured from Django settings (CELERY_TASK_ALWAYS_EAGER, an in-memory
broker, no Redis anywhere)."""

from __future__ import annotations

from django.db import connection
from django.test import TestCase, override_settings

import graflow_celery
from graflow_celery import TaskError, task
from tests.contract import flows
from tests.eager.django_project.celery import app
from tests.eager.test_eager_mode import redis_set_up_for


@task
def count_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM eager_rows")
        return int(cursor.fetchone()[0])


class EagerWorkflowTests(TestCase):
    def test_the_app_reads_its_settings_from_django(self):
        self.assertTrue(app.conf.task_always_eager)
        self.assertEqual(app.conf.broker_url, "memory://")

    def test_submit_runs_the_workflow_and_returns_it_finished(self):
        run = graflow_celery.submit(flows.pipeline(), app=app)
        self.assertEqual(run.status(), "completed")  # before any wait: it ran inside submit
        self.assertEqual(run.result(), 12)
        self.assertEqual(run.results(), {"load": [1, 2, 3], "double": [2, 4, 6], "total": 12})
        self.assertFalse(redis_set_up_for(app))

    def test_inputs_fill_parameters(self):
        run = graflow_celery.submit(flows.greeting(), inputs={"name": "django"}, app=app)
        self.assertEqual(run.result(), "hello django!")

    def test_a_failing_task_fails_the_run_and_result_raises_it(self):
        run = graflow_celery.submit(flows.single(flows.bad_task), app=app)
        self.assertEqual(run.status(), "failed")
        with self.assertRaises(TaskError):
            run.result()

    @override_settings(CELERY_TASK_EAGER_PROPAGATES=True)
    def test_with_eager_propagates_the_task_error_raises_from_submit(self):
        with self.assertRaises(TaskError) as caught:
            graflow_celery.submit(flows.single(flows.bad_task), app=app)
        self.assertEqual(caught.exception.task_id, "bad_task")
        self.assertIsInstance(caught.exception.__cause__, ValueError)  # the task's own exception

    def test_tasks_see_the_tests_database_transaction(self):
        with connection.cursor() as cursor:  # rolled back with the test's transaction
            cursor.execute("CREATE TABLE eager_rows (n integer)")
            cursor.execute("INSERT INTO eager_rows VALUES (1), (2)")
        self.assertEqual(graflow_celery.submit(flows.single(count_rows), app=app).result(), 2)

    @override_settings(CELERY_TASK_EAGER_PROPAGATES=True)
    def test_with_eager_propagates_a_completed_run_is_returned(self):
        self.assertEqual(graflow_celery.submit(flows.pipeline(), app=app).result(), 12)
