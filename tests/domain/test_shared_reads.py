"""SharedReads and BatchedReads: concurrent callers share a read, but only one that started after they asked; errors
reach every caller; a caller that leaves does not cancel the read for the others."""

from __future__ import annotations

import asyncio

import pytest

from domain.services.shared_reads import BatchedReads, SharedReads


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


class Rows:
    """Rows by key that change; each batched read sees them as they were when it started, after a pause."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.reads: list[list[str]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.failure: Exception | None = None

    async def load(self, keys: list[str]) -> dict[str, int]:
        self.reads.append(keys)
        seen = {k: self.rows[k] for k in keys if k in self.rows}
        await self.release.wait()
        if self.failure is not None:
            raise self.failure
        return seen


async def test_lookups_waiting_together_go_in_one_read_and_keep_their_own_answers():
    rows = Rows()
    rows.rows = {f"k{i}": i for i in range(0, 40, 3)}
    batched = BatchedReads(rows.load)
    answers = await asyncio.gather(*(batched.get_many([f"k{i}", f"none{i}"]) for i in range(40)))
    assert answers == [{f"k{i}": i} if i % 3 == 0 else {} for i in range(40)]
    assert len(rows.reads) == 1 and len(rows.reads[0]) == 80, rows.reads
    assert await batched.get("k3") == 3 and await batched.get("none") is None


async def test_a_lookup_never_takes_the_answer_of_a_read_that_began_before_it_asked():
    rows = Rows()
    rows.release.clear()
    batched = BatchedReads(rows.load)
    early = asyncio.create_task(batched.get("revoked"))
    await asyncio.sleep(0.01)  # the first read is running and saw no row
    rows.rows["revoked"] = 1  # committed before the late lookups ask
    late = [asyncio.create_task(batched.get("revoked")) for _ in range(10)]
    await asyncio.sleep(0.01)
    assert len(rows.reads) == 1, "the next read waits for the running one (one in flight)"
    rows.release.set()
    assert await early is None
    assert await asyncio.gather(*late) == [1] * 10, "a late lookup got a read older than its own question"
    assert len(rows.reads) == 2


async def test_a_failed_read_fails_every_lookup_in_it_and_the_next_ones_read_again():
    rows = Rows()
    rows.release.clear()
    batched = BatchedReads(rows.load)
    first = asyncio.create_task(batched.get("a"))
    await asyncio.sleep(0.01)
    waiting = [asyncio.create_task(batched.get(f"w{i}")) for i in range(3)]
    rows.failure = ConnectionError("the database is down")
    rows.release.set()
    for lookup in (first, *waiting):
        with pytest.raises(ConnectionError):
            await lookup
    assert len(rows.reads) == 2
    rows.failure = None
    rows.rows["a"] = 7
    assert await batched.get("a") == 7


async def test_a_read_takes_at_most_max_keys_and_a_cancelled_lookup_leaves_the_others_answered():
    rows = Rows()
    rows.rows = {f"k{i}": i for i in range(10)}
    batched = BatchedReads(rows.load, max_keys=4)
    lookups = [asyncio.create_task(batched.get(f"k{i}")) for i in range(10)]
    lookups[5].cancel()
    answers = await asyncio.gather(*lookups, return_exceptions=True)
    assert isinstance(answers[5], asyncio.CancelledError)
    assert [a for i, a in enumerate(answers) if i != 5] == [i for i in range(10) if i != 5]
    assert [len(r) for r in rows.reads] == [4, 4, 1]
