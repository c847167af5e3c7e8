"""graflow_celery.contrib.django inside one process (the settings of ``django_project/``: SQLite in
memory, Celery eager): every app's ``workflows`` module imported once the registry is ready, the
in-process engine inside a ``TestCase``, ``submit_on_commit`` with commits and rollbacks, and who
may use the views."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.test import Client, SimpleTestCase, TestCase, override_settings

import graflow_celery
from graflow_celery import WorkflowDiscardedError
from graflow_celery.contrib.django import submit_on_commit
from graflow_celery.contrib.django.project import celery_app
from tests.contract import flows
from tests.eager.django_project.celery import app
from tests.eager.django_project.inventory import workflows as inventory
from tests.eager.django_project.inventory.models import Item


@pytest.fixture(scope="module", autouse=True)
def item_table():
    with connection.schema_editor() as editor:  # outside any transaction: SQLite wants it so
        editor.create_model(Item)
    yield
    with connection.schema_editor() as editor:
        editor.delete_model(Item)


def test_the_project_app_is_found_and_every_workflows_module_imported():
    assert celery_app() is app
    assert graflow_celery.workflows()["eager_stocktake"] is inventory.stocktake


def test_outside_a_transaction_submit_on_commit_submits_at_once():
    run = submit_on_commit(flows.pipeline())
    assert run.status() == "completed"  # eager: it ran inside the call
    assert run.result() == 12


class InProcessEngineTests(TestCase):
    def setUp(self):
        Item.objects.bulk_create([Item(name="apples", count=2), Item(name="bananas", count=7)])
        inventory.threads.clear()

    def test_steps_run_in_the_tests_thread_and_see_its_rows(self):
        # wf.execute() with its default 4 threads: in a TestCase the steps stay in this thread,
        # where the test's transaction is (other threads could not see these rows).
        self.assertEqual(inventory.stocktake.execute(), 12)
        here = threading.current_thread().name
        self.assertEqual(inventory.threads, [here] * 4)
        self.assertEqual(Item.objects.get(name="apples").count, 5)


class SubmitOnCommitTests(TestCase):
    def test_pending_until_the_commit_then_it_runs(self):
        with self.captureOnCommitCallbacks(execute=True) as callbacks:
            run = submit_on_commit(flows.pipeline(), app=app)
            self.assertEqual(run.status(), "pending")
            self.assertEqual(run.task_states(), {"load": "pending", "double": "pending", "total": "pending"})
        self.assertEqual(len(callbacks), 1)
        self.assertEqual(run.status(), "completed")
        self.assertEqual(run.result(), 12)

    def test_a_rollback_discards_the_run(self):
        with self.assertRaises(RuntimeError), transaction.atomic():
            run = submit_on_commit(flows.pipeline())
            raise RuntimeError("the view failed after submitting")
        self.assertEqual(run.status(), "discarded")  # at once: Django dropped the callback
        self.assertEqual(run.wait(timeout=1), "discarded")
        with self.assertRaises(WorkflowDiscardedError):
            run.result()

    def test_a_savepoint_rollback_discards_only_its_own_runs(self):
        with self.captureOnCommitCallbacks(execute=True):
            kept = submit_on_commit(flows.pipeline())
            try:
                with transaction.atomic():
                    dropped = submit_on_commit(flows.pipeline())
                    raise ValueError("undo the inner block")
            except ValueError:
                pass
            self.assertEqual(dropped.status(), "discarded")
            self.assertEqual(kept.status(), "pending")
        self.assertEqual(kept.result(), 12)
        self.assertEqual(dropped.status(), "discarded")


@override_settings(ROOT_URLCONF="graflow_celery.contrib.django.urls")
class ViewAccessTests(SimpleTestCase):
    def test_without_a_setting_only_staff_may_look(self):
        client = Client()
        self.assertEqual(client.get("/api/runs/").status_code, 403)  # no logged-in staff user here
        self.assertEqual(client.get("/api/runs/some-run/").status_code, 403)
        self.assertEqual(client.post("/api/runs/some-run/cancel/").status_code, 403)
        self.assertEqual(client.get("/runs/some-run/").status_code, 403)

    @override_settings(CELERY_GRAFLOW_VIEWS_ACCESS="graflow_celery.contrib.django.access.anyone")
    def test_without_django_contrib_auth_nobody_may_answer(self):
        # This project has no django.contrib.auth: no user, so no permission - whatever the setting.
        client = Client()  # CSRF checks off: the permission refuses
        self.assertEqual(client.get("/feedback/").status_code, 403)
        answered = client.post("/feedback/", {"feedback_id": "some-run:1:0", "answer": "yes"})
        self.assertEqual(answered.status_code, 403)
        for response in (client.get("/api/feedback/"),
                         client.post("/api/feedback/some-run:1:0/answer/", {"answer": "yes"})):
            self.assertEqual(response.status_code, 403)
            self.assertIn("needs the permission graflow.answer_feedback", response.json()["error"])

    @override_settings(CELERY_GRAFLOW_VIEWS_ACCESS="graflow_celery.contrib.django.access.anyone")
    def test_the_setting_names_who_may(self):
        client = Client()
        response = client.get("/api/runs/")
        self.assertEqual((response.status_code, response.json()), (200, {"runs": []}))  # eager: none stored
        response = client.get("/api/runs/some-run/")
        self.assertEqual(response.status_code, 404)
        self.assertIn("eagerly", response.json()["error"])
        self.assertEqual(client.get("/api/runs/?limit=nope").status_code, 400)

    @override_settings(CELERY_GRAFLOW_VIEWS_ACCESS="no.such.module.check")
    def test_a_setting_that_names_nothing_is_a_clear_error(self):
        with self.assertRaisesMessage(ImproperlyConfigured, "VIEWS_ACCESS = 'no.such.module.check'"):
            Client().get("/api/runs/")
