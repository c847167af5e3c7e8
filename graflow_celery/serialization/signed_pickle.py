"""Opt-in pickle (cloudpickle, so closures and lambdas travel too) for what tagged JSON cannot
carry, signed so that a forged payload is refused.

Loading pickle runs code, so a payload is only loaded when its HMAC-SHA256 matches the key that
every trusted process shares. Use it only among processes you trust with that key.
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
from typing import Any

import cloudpickle

from graflow_celery.errors import ConfigurationError, SerializationError

_MAC_SIZE = hashlib.sha256().digest_size


class SignedPickleSerializer:
    name = "signed-pickle"

    def __init__(self, key: bytes | str) -> None:
        key_bytes = key.encode() if isinstance(key, str) else key
        if len(key_bytes) < 16:
            raise ConfigurationError("the signed-pickle key must be at least 16 bytes long")
        self._key = key_bytes

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def dumps(self, value: Any) -> bytes:
        try:
            payload = cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise SerializationError(f"cannot pickle a value of type {type(value).__qualname__}") from exc
        return self._mac(payload) + payload

    def loads(self, data: bytes) -> Any:
        mac, payload = data[:_MAC_SIZE], data[_MAC_SIZE:]
        if len(mac) != _MAC_SIZE or not hmac.compare_digest(mac, self._mac(payload)):
            raise SerializationError("refused a pickled value whose signature does not match the key")
        return pickle.loads(payload)
