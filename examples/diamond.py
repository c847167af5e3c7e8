"""A diamond: fetch fans out to two parallel analyses, and report joins them (it runs once)."""

from graflow_celery import task, workflow


@task
def fetch() -> list[int]:
    return [3, 1, 4, 1, 5, 9, 2, 6]


@task
def stats(fetch: list[int]) -> dict:
    return {"min": min(fetch), "max": max(fetch), "mean": sum(fetch) / len(fetch)}


@task
def histogram(fetch: list[int]) -> dict:
    return {n: fetch.count(n) for n in sorted(set(fetch))}


@task
def report(stats: dict, histogram: dict) -> str:
    return f"stats={stats} most_common={max(histogram, key=histogram.get)}"


with workflow("diamond") as diamond:
    fetch >> stats >> report
    fetch >> histogram >> report

if __name__ == "__main__":
    print(diamond.execute())
