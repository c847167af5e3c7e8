"""Stop a long run with Ctrl-C and resume it where it stopped; resume a failed run once fixed.

    python examples/checkpoint_resume.py              # press Ctrl-C during "crunch"
    python examples/checkpoint_resume.py --resume checkpoints/<run>/<checkpoint>.json

Ctrl-C (or SIGTERM) stops dispatching, lets the running task finish - "crunch" checks
ctx.should_stop() between chunks and stops early - writes a checkpoint and exits. Resuming runs
only what had not completed; "crunch" picks up from the chunks it had saved in the channel.
Without Ctrl-C the example also shows a failed run resumed after its "fix".
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from graflow_celery import (
    CheckpointManager,
    TaskContext,
    TaskError,
    WorkflowEngine,
    WorkflowInterruptedError,
    task,
    workflow,
)

CHUNKS = 10
CHUNK_SECONDS = float(os.environ.get("CHUNK_SECONDS", "0.05"))


@task(inject_context=True)
def fetch(ctx: TaskContext) -> list[int]:
    ctx.get_channel().append("ran", "fetch")
    return list(range(1, CHUNKS + 1))


@task(inject_context=True)
def crunch(ctx: TaskContext, fetch: list[int]) -> int:
    """Long work in chunks; each finished chunk is kept in the channel, so a resumed run goes on."""
    channel = ctx.get_channel()
    channel.append("ran", "crunch")
    for i in range(channel.get("chunks_done", 0), len(fetch)):
        if ctx.should_stop():
            raise InterruptedError(f"stopped after {i} chunks")  # runs again on resume, no retry spent
        time.sleep(CHUNK_SECONDS)
        print(f"crunch: chunk {i + 1} of {len(fetch)}", file=sys.stderr, flush=True)
        channel.append("squares", fetch[i] ** 2)
        channel.set("chunks_done", i + 1)
    ctx.checkpoint({"note": "crunched"})  # deferred: written after crunch, before report
    return sum(channel.get("squares"))


@task(inject_context=True)
def report(ctx: TaskContext, crunch: int) -> str:
    if os.environ.get("REPORT_BROKEN") and not ctx.get_channel().get("fixed"):
        raise RuntimeError("the report template is missing")
    ran = ctx.get_channel().get("ran")
    return f"sum of squares = {crunch}; tasks that ran: {', '.join(ran)}, report"


with workflow("checkpoint_resume") as wf:
    fetch >> crunch >> report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resume", metavar="PATH", help="a checkpoint to resume")
    args = parser.parse_args()
    try:
        if args.resume:
            context, metadata = CheckpointManager.resume_from_checkpoint(args.resume)
            print(f"resuming run {metadata.session_id} from {args.resume}")
            print(WorkflowEngine().execute(context))
        else:
            print(wf.execute())
    except WorkflowInterruptedError as stopped:
        print(f"interrupted; resume with: python {sys.argv[0]} --resume {stopped.checkpoint_path}")
        return 130
    if not args.resume:  # a failed run, resumed once its code is "fixed"
        os.environ["REPORT_BROKEN"] = "1"
        try:
            wf.execute()
        except TaskError as failed:
            print(f"failed: {failed}")
            context, _ = CheckpointManager.resume_from_checkpoint(failed.checkpoint)  # type: ignore[attr-defined]
            context.channel.set("fixed", True)
            print(f"resumed after the fix: {WorkflowEngine().execute(context)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
