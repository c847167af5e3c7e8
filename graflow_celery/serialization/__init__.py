"""Values travel as bytes: results, channel values and iteration data all pass a ``Serializer``
(in process, ``InProcessValues`` keeps the Python objects themselves)."""

from graflow_celery.serialization.in_process import InProcessValues
from graflow_celery.serialization.protocol import Serializer
from graflow_celery.serialization.registry import register_type
from graflow_celery.serialization.signed_pickle import SignedPickleSerializer
from graflow_celery.serialization.tagged_json import TaggedJSONSerializer

__all__ = ["InProcessValues", "Serializer", "SignedPickleSerializer", "TaggedJSONSerializer", "register_type"]
