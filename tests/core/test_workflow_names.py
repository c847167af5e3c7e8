"""A workflow name names one workflow in a process: a second, different definition under the same
name is refused, naming both modules; defining it again from the same file is not."""

from __future__ import annotations

import importlib
import sys
import uuid

import pytest
from celery import Celery

import graflow_celery
from graflow_celery.errors import GraphDefinitionError

MODULE = """
from graflow_celery import task, workflow

@task
def step():
    return "{tag}"

with workflow("{name}") as wf:
    step
"""


@pytest.fixture
def write_module(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    written = []

    def write(module: str, name: str, tag: str = "a") -> str:
        (tmp_path / f"{module}.py").write_text(MODULE.format(name=name, tag=tag))
        written.append(module)
        return module

    yield write
    for module in written:
        sys.modules.pop(module, None)


def test_a_second_workflow_under_a_taken_name_is_an_error_naming_both_modules(write_module):
    name = f"orders-{uuid.uuid4().hex[:6]}"
    first = importlib.import_module(write_module("billing_flows", name))
    write_module("shipping_flows", name, tag="b")
    with pytest.raises(GraphDefinitionError) as caught:
        importlib.import_module("shipping_flows")
    message = str(caught.value)
    assert "billing_flows" in message and "shipping_flows" in message and repr(name) in message
    assert graflow_celery.workflows()[name] is first.wf  # the first definition is kept


def test_importing_the_same_module_again_replaces_its_workflow(write_module):
    name = f"reports-{uuid.uuid4().hex[:6]}"
    module = importlib.import_module(write_module("report_flows", name))
    reloaded = importlib.reload(module)
    assert graflow_celery.workflows()[name] is reloaded.wf


def test_a_factory_called_twice_defines_its_workflow_again():
    from tests.contract import flows

    first, second = flows.pipeline(), flows.pipeline()
    assert first is not second and graflow_celery.workflows()[second.name] is second


def test_submitting_an_unknown_name_lists_the_known_workflows():
    from tests.contract import flows

    flows.pipeline()
    with pytest.raises(graflow_celery.ConfigurationError) as caught:
        graflow_celery.submit("no-such-workflow", app=Celery("names", broker="memory://"))
    assert "no-such-workflow" in str(caught.value) and "pipeline" in str(caught.value)
