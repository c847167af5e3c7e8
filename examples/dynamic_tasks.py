"""Tasks added at run time: a crawler queues one task per page it discovers."""

from graflow_celery import TaskContext, TaskWrapper, task, workflow

SITE = {"/": ["/a", "/b"], "/a": ["/c"], "/b": [], "/c": []}


def crawl_page(ctx: TaskContext, path: str) -> str:
    ctx.get_channel().append("visited", path)
    for link in SITE[path]:
        # A new id: a new task, queued in addition to this task's successors.
        page = TaskWrapper(f"crawl:{link}", crawl_page, inject_context=True, bound_kwargs={"path": link})
        ctx.next_task(page)
    return path


@task(inject_context=True)
def start(ctx: TaskContext) -> None:
    ctx.next_task(TaskWrapper("crawl:/", crawl_page, inject_context=True, bound_kwargs={"path": "/"}))


with workflow("crawler") as crawler:
    crawler.add(start)

if __name__ == "__main__":
    _, context = crawler.execute(ret_context=True)
    print("visited:", sorted(context.get_channel().get("visited")))
