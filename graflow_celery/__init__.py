"""graflow-celery: Graflow workflows (``a >> (b | c) >> d``, dynamic tasks, loops, goto, group
policies) that run in-process or on ordinary Celery workers over Redis."""

import logging

from graflow_celery.backends.celery import (  # also registers the "celery" backend
    WorkflowRun,
    from_celery,
    install,
    recent_runs,
    resume,
    submit,
)
from graflow_celery.backends.memory import MemoryBackend  # also registers the "memory" backend
from graflow_celery.channels import Channel, MemoryChannel, TypedChannel
from graflow_celery.checkpoint_manager import CheckpointManager
from graflow_celery.checkpoints import Checkpoint, CheckpointMetadata
from graflow_celery.core.composition import Chain, Executable, ParallelGroup, chain, parallel
from graflow_celery.core.context import ExecutionContext
from graflow_celery.core.coordination import CoordinationBackend
from graflow_celery.core.engine import WorkflowEngine
from graflow_celery.core.feedback import FeedbackEntry, FeedbackRequest, FeedbackResponse, FeedbackType
from graflow_celery.core.feedback_handler import FeedbackHandler
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.policies import (
    AtLeastNGroupPolicy,
    BestEffortGroupPolicy,
    CriticalGroupPolicy,
    GroupExecutionPolicy,
    GroupPolicy,
    MemberOutcome,
    StrictGroupPolicy,
    TaskResult,
)
from graflow_celery.core.retry import RetryPolicy
from graflow_celery.core.task import TaskWrapper, task
from graflow_celery.core.task_context import TaskContext, TaskExecutionContext
from graflow_celery.core.workflow import WorkflowContext, workflow, workflows
from graflow_celery.errors import (
    BoundArgumentError,
    CheckpointError,
    ConfigurationError,
    CycleLimitExceededError,
    DuplicateTaskError,
    FeedbackNotWaitingError,
    FeedbackTimeoutError,
    GraflowError,
    GraphDefinitionError,
    InvalidFeedbackError,
    InvalidRetryPolicyError,
    InvalidRunIdError,
    MaxStepsExceededError,
    NotImportableError,
    ParallelGroupError,
    RemoteError,
    RunAlreadyStartedError,
    SerializationError,
    TaskError,
    WorkflowCancelledError,
    WorkflowDiscardedError,
    WorkflowInterruptedError,
    WorkflowParkedError,
    WorkflowRuntimeError,
    WorkflowTimeoutError,
)
from graflow_celery.feedback import local_run, pending_feedback, respond
from graflow_celery.hitl.handler import WebhookFeedbackHandler
from graflow_celery.serialization import SignedPickleSerializer, TaggedJSONSerializer, register_type

__version__ = "0.1.0"

logging.getLogger("graflow_celery").addHandler(logging.NullHandler())

__all__ = [
    "AtLeastNGroupPolicy",
    "BestEffortGroupPolicy",
    "BoundArgumentError",
    "Chain",
    "Channel",
    "Checkpoint",
    "CheckpointError",
    "CheckpointManager",
    "CheckpointMetadata",
    "ConfigurationError",
    "CriticalGroupPolicy",
    "CycleLimitExceededError",
    "DuplicateTaskError",
    "Executable",
    "ExecutionContext",
    "FeedbackEntry",
    "FeedbackHandler",
    "FeedbackNotWaitingError",
    "FeedbackRequest",
    "FeedbackResponse",
    "FeedbackTimeoutError",
    "FeedbackType",
    "GraflowError",
    "GraphDefinitionError",
    "GroupPolicy",
    "InvalidFeedbackError",
    "InvalidRetryPolicyError",
    "InvalidRunIdError",
    "MaxStepsExceededError",
    "MemberOutcome",
    "MemoryBackend",
    "MemoryChannel",
    "NotImportableError",
    "ParallelGroup",
    "ParallelGroupError",
    "RemoteError",
    "RetryPolicy",
    "RunAlreadyStartedError",
    "SerializationError",
    "SignedPickleSerializer",
    "StrictGroupPolicy",
    "TaggedJSONSerializer",
    "TaskContext",
    "TaskError",
    "TaskExecutionContext",
    "TaskGraph",
    "TaskWrapper",
    "TypedChannel",
    "WebhookFeedbackHandler",
    "WorkflowCancelledError",
    "WorkflowContext",
    "WorkflowDiscardedError",
    "WorkflowEngine",
    "WorkflowInterruptedError",
    "WorkflowParkedError",
    "WorkflowRun",
    "WorkflowRuntimeError",
    "WorkflowTimeoutError",
    "chain",
    "from_celery",
    "install",
    "local_run",
    "parallel",
    "pending_feedback",
    "recent_runs",
    "register_type",
    "respond",
    "resume",
    "submit",
    "task",
    "workflow",
    "workflows",
]
__all__ += ["CoordinationBackend", "GroupExecutionPolicy", "TaskResult"]  # graflow's names

# --- graflow's names (issue 10) ------------------------------------------------------------------
# What a graflow 0.2 program imports, under graflow's name. Each is also at its graflow module path
# (graflow.core.decorators -> graflow_celery.core.decorators, graflow.exceptions -> ...exceptions).
# isort: off
from graflow_celery.channels.factory import ChannelFactory  # noqa: E402
from graflow_celery.core.context import create_execution_context  # noqa: E402
from graflow_celery.core.task import SequentialTask, Task  # noqa: E402
from graflow_celery.core.workflow import clear_workflow_context, current_workflow_context  # noqa: E402
from graflow_celery.errors import (  # noqa: E402
    ConfigError,
    GraflowRuntimeError,
    GraflowWorkflowCanceledError,
    GraphCompilationError,
    RetryLimitExceededError,
    UnknownTaskError,
)
from graflow_celery.trace import ConsoleTracer, NoopTracer, Tracer  # noqa: E402
# isort: on

__all__ += [
    "ChannelFactory", "ConfigError", "ConsoleTracer", "GraflowRuntimeError", "GraflowWorkflowCanceledError",
    "GraphCompilationError", "NoopTracer", "RetryLimitExceededError",
    "SequentialTask", "Task", "Tracer", "UnknownTaskError", "clear_workflow_context",
    "create_execution_context", "current_workflow_context",
]
# --- end of graflow's names -----------------------------------------------------------------------

# Task handlers (@task(handler=...)): how a task's body runs. Kept in one block, apart from the
# names above, so that this part of the API reads (and merges) as one piece.
from graflow_celery.handlers import (  # noqa: E402
    CeleryTaskHandler,
    DirectTaskHandler,
    ProcessTaskHandler,
    TaskCall,
    TaskHandler,
    TaskProcessCrashed,
    register_handler,
)

__all__ += [
    "CeleryTaskHandler",
    "DirectTaskHandler",
    "ProcessTaskHandler",
    "TaskCall",
    "TaskHandler",
    "TaskProcessCrashed",
    "register_handler",
]
