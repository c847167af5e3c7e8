"""A task asks a person with a handler that announces the request; nobody answers in time, so the
handler hears of the timeout and the task goes on with a default."""

from graflow_celery.core.context import TaskExecutionContext
from graflow_celery.core.decorators import task
from graflow_celery.core.workflow import workflow
from graflow_celery.hitl.handler import FeedbackHandler
from graflow_celery.hitl.types import FeedbackRequest, FeedbackResponse, FeedbackTimeoutError


class Announce(FeedbackHandler):
    def on_request_created(self, request: FeedbackRequest) -> None:
        print(f"asked ({request.feedback_type.value}, {request.status}): {request.prompt}")

    def on_response_received(self, request: FeedbackRequest, response: FeedbackResponse) -> None:
        print(f"answered: {response.text}")

    def on_request_timeout(self, request: FeedbackRequest) -> None:
        print(f"no answer within {request.timeout}s ({request.status}): {request.prompt}")


with workflow("greeting") as wf:

    @task(inject_context=True)
    def ask_name(context: TaskExecutionContext) -> str:
        try:
            response = context.request_feedback("text", "Your name?", timeout=0.3, handler=Announce())
            return response.text or ""
        except FeedbackTimeoutError:
            return "stranger"

    @task(inject_context=True)
    def greet(context: TaskExecutionContext) -> str:
        name = context.get_result("ask_name")
        print(f"Hello, {name}!")
        return name

    ask_name >> greet
    wf.execute()
