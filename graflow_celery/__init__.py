"""graflow-celery: Graflow workflows (``a >> (b | c) >> d``, dynamic tasks, loops, goto, group
policies) that run in-process or on ordinary Celery workers over Redis."""

import logging

from graflow_celery.backends.celery import (  # also registers the "celery" backend
    WorkflowRun,
    from_celery,
    install,
    resume,
    submit,
)
from graflow_celery.backends.memory import MemoryBackend  # also registers the "memory" backend
from graflow_celery.channels import Channel, MemoryChannel, TypedChannel
from graflow_celery.checkpoint_manager import CheckpointManager
from graflow_celery.checkpoints import Checkpoint, CheckpointMetadata
from graflow_celery.core.composition import Chain, Executable, ParallelGroup, chain, parallel
from graflow_celery.core.context import ExecutionContext
from graflow_celery.core.engine import WorkflowEngine
from graflow_celery.core.feedback import FeedbackEntry, FeedbackRequest, FeedbackResponse, FeedbackType
from graflow_celery.core.graph import TaskGraph
from graflow_celery.core.policies import (
    AtLeastNGroupPolicy,
    BestEffortGroupPolicy,
    CriticalGroupPolicy,
    GroupPolicy,
    MemberOutcome,
    StrictGroupPolicy,
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
    SerializationError,
    TaskError,
    WorkflowCancelledError,
    WorkflowInterruptedError,
    WorkflowParkedError,
    WorkflowRuntimeError,
    WorkflowTimeoutError,
)
from graflow_celery.feedback import local_run, pending_feedback, respond
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
    "WorkflowCancelledError",
    "WorkflowContext",
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
    "register_type",
    "respond",
    "resume",
    "submit",
    "task",
    "workflow",
    "workflows",
]
