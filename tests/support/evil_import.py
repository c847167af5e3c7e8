"""A module no stored value may cause to be imported: importing it leaves a trace.

If the environment variable GRAFLOW_EVIL_MARKER names a file, importing this module creates that
file. Attack tests name ``tests.support.evil_import:Evil`` in a stored value or a message and then
check that the file does not exist (and that the module is not in ``sys.modules``).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

_marker = os.environ.get("GRAFLOW_EVIL_MARKER")
if _marker:
    Path(_marker).write_text(f"imported by pid {os.getpid()}\n")

MARKER = "tests.support.evil_import:Evil"


class Evil(BaseModel):
    """Its validator would run if a decoder ever imported this module and validated with it."""

    payload: str = ""

    def model_post_init(self, context: object) -> None:
        if _marker:
            Path(_marker).write_text(f"validated by pid {os.getpid()}\n")
