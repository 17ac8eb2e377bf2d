"""SharedReads: concurrent callers share a read, but only one that started after they asked; errors reach every
caller; a caller that leaves does not cancel the read for the others."""

from __future__ import annotations

import asyncio

import pytest

from domain.services.shared_reads import SharedReads


class Store:
    """A value that changes; each read sees it as it was when the read started, after a pause."""

    def __init__(self) -> None:
        self.value = 0
        self.reads = 0
        self.release = asyncio.Event()

    async def read(self) -> int:
        self.reads += 1
        seen = self.value
        await self.release.wait()
        return seen


async def test_callers_waiting_together_share_one_read():
    store, shared = Store(), SharedReads()
    callers = [asyncio.create_task(shared.read("k", store.read)) for _ in range(100)]
    await asyncio.sleep(0.01)
    store.release.set()
    assert await asyncio.gather(*callers) == [0] * 100
    assert store.reads == 1


async def test_a_caller_never_joins_a_read_that_began_before_it_asked():
    store, shared = Store(), SharedReads()
    early = asyncio.create_task(shared.read("k", store.read))
    await asyncio.sleep(0.01)  # the first read is running and has seen 0
    store.value = 1  # a change committed before the late callers ask
    late = [asyncio.create_task(shared.read("k", store.read)) for _ in range(10)]
    await asyncio.sleep(0.01)
    assert store.reads == 1, "the next read waits for the running one (one in flight per key)"
    store.release.set()
    assert await early == 0
    assert await asyncio.gather(*late) == [1] * 10, "a late caller got a read older than its own question"
    assert store.reads == 2


async def test_keys_do_not_share():
    store, shared = Store(), SharedReads()
    store.release.set()
    await asyncio.gather(shared.read("a", store.read), shared.read("b", store.read))
    assert store.reads == 2


async def test_an_error_reaches_every_caller_and_a_cancelled_caller_leaves_the_read_to_the_others():
    shared = SharedReads()
    gate = asyncio.Event()

    async def failing() -> int:
        await gate.wait()
        raise LookupError("gone")

    callers = [asyncio.create_task(shared.read("k", failing)) for _ in range(3)]
    await asyncio.sleep(0.01)
    callers[0].cancel()
    gate.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert all(isinstance(r, LookupError) for r in results[1:])
    store = Store()
    store.release.set()
    assert await shared.read("k", store.read) == 0, "a failed read leaves nothing behind"


@pytest.mark.parametrize("n", [1, 2])
async def test_a_read_after_the_last_one_ended_runs_again(n):
    store, shared = Store(), SharedReads()
    store.release.set()
    for i in range(n):
        store.value = i
        assert await shared.read("k", store.read) == i
    assert store.reads == n
