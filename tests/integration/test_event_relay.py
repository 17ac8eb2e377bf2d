"""The relay between a server's worker processes (no Redis): peers that die, close, stall or send garbage."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import socket
import struct
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from domain.events import EventsMissed, project_topic
from integrations import events_relay
from integrations.events_relay import LocalRelayEventBus, relay_folder
from tests.integration.test_event_bus_contract import event, take

ROOT = Path(__file__).resolve().parents[2]

# A peer in its own process: publishes an event every 20 ms to whoever listens in the folder, until it is killed.
PEER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from integrations.events_relay import LocalRelayEventBus
    from tests.integration.test_event_bus_contract import event

    async def main():
        bus = LocalRelayEventBus(Path(sys.argv[1]))
        i = 0
        while True:
            await bus.publish(event(f"t{i}"))
            i += 1
            await asyncio.sleep(0.02)

    asyncio.run(main())
    """
)


@pytest.fixture
async def folder(tmp_path):
    return relay_folder(tmp_path)


async def test_a_peer_killed_mid_stream_tells_every_subscriber_it_may_have_missed_events(folder):
    bus = LocalRelayEventBus(folder)
    peer = await asyncio.create_subprocess_exec(sys.executable, "-c", PEER, str(folder), cwd=ROOT)
    try:
        async with bus.subscribe([project_topic("p1")]) as events:
            numbers = [int(e.entity_id[1:]) for e in await take(events, 3)]
            assert numbers == list(range(numbers[0], numbers[0] + 3))  # from another process, in order
            peer.send_signal(signal.SIGKILL)
            await peer.wait()
            with pytest.raises(EventsMissed):
                await take(events, 1000)
    finally:
        if peer.returncode is None:
            peer.kill()
            await peer.wait()
        await bus.aclose()


async def test_a_peer_that_closes_says_so_and_its_subscribers_neighbours_carry_on(folder):
    listener, leaving, staying = LocalRelayEventBus(folder), LocalRelayEventBus(folder), LocalRelayEventBus(folder)
    try:
        async with listener.subscribe([project_topic("p1")]) as events:
            first = event("t1")
            await leaving.publish(first)
            assert await take(events, 1) == [first]
            await leaving.aclose()
            second = event("t2")
            await staying.publish(second)
            assert await take(events, 1) == [second]  # no EventsMissed: the closing peer said bye
    finally:
        for bus in (listener, leaving, staying):
            await bus.aclose()


async def test_the_socket_a_dead_process_left_is_removed_and_the_rest_still_hear(folder):
    stale = folder / f"deadbeef{events_relay.SUFFIX}"
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(stale))
    leftover.close()  # the file stays; nobody listens on it
    listener, publisher = LocalRelayEventBus(folder), LocalRelayEventBus(folder)
    try:
        async with listener.subscribe([project_topic("p1")]) as events:
            sent = event("t1")
            await publisher.publish(sent)
            assert await take(events, 1) == [sent]
            async with asyncio.timeout(5):
                while stale.exists():
                    await asyncio.sleep(0.01)
            await publisher.publish(event("t2"))
            assert [e.entity_id for e in await take(events, 1)] == ["t2"]
    finally:
        await listener.aclose()
        await publisher.aclose()


async def test_a_peer_that_stops_reading_is_cut_off_and_its_subscribers_are_told(folder, monkeypatch):
    monkeypatch.setattr(events_relay, "MAX_BEHIND", 64 * 1024)
    stalled, publisher = LocalRelayEventBus(folder), LocalRelayEventBus(folder)
    try:
        async with stalled.subscribe([project_topic("p1")]) as events:
            await publisher.publish(event("t0"))
            assert [e.entity_id for e in await take(events, 1)] == ["t0"]
            for inbound in stalled.inbound:
                assert inbound.transport is not None
                inbound.transport.pause_reading()
            big = {"blob": "x" * 100_000}
            sent = 0
            async with asyncio.timeout(10):
                while publisher._peers:  # until the publisher gives up on the stalled peer
                    await publisher.publish(dataclasses.replace(event(f"t{sent + 1}"), data=big))
                    sent += 1
                    await asyncio.sleep(0)
            for inbound in stalled.inbound:
                inbound.transport.resume_reading()
            received = []
            with pytest.raises(EventsMissed):
                async with asyncio.timeout(10):
                    async for e in events:
                        received.append(e.entity_id)  # noqa: PERF401 - kept up to the exception
            assert len(received) < sent  # what got through came first, in order, then the loss was told
            assert received == [f"t{i}" for i in range(1, len(received) + 1)]
    finally:
        await stalled.aclose()
        await publisher.aclose()


async def test_garbage_on_the_relay_socket_is_dropped_and_an_oversized_frame_ends_that_connection(folder):
    bus = LocalRelayEventBus(folder)
    try:
        async with bus.subscribe([project_topic("p1")]) as events:
            reader, writer = await asyncio.open_unix_connection(bus.path)
            junk = b"{not json"
            writer.write(struct.pack("!I", len(junk)) + junk)
            good = event("t1")
            writer.write(events_relay._frame(good))
            await writer.drain()
            assert await take(events, 1) == [good]  # the junk frame was skipped, the stream went on
            writer.write(struct.pack("!I", events_relay.MAX_FRAME + 1))
            await writer.drain()
            async with asyncio.timeout(5):
                assert await reader.read() == b""  # the relay hung up
            with pytest.raises(EventsMissed):
                await take(events, 1)
            writer.close()
    finally:
        await bus.aclose()


def test_the_relay_folder_is_this_users_alone(tmp_path):
    folder = relay_folder(tmp_path)
    assert folder == tmp_path.resolve() / "live-events"
    assert folder.stat().st_mode & 0o777 == 0o700
    os.chmod(folder, 0o755)
    with pytest.raises(RuntimeError, match="mode 0700"):
        relay_folder(tmp_path)


def test_a_data_folder_too_deep_for_a_socket_name_meets_in_the_temporary_folder(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    folder = relay_folder(deep)
    assert folder.parent == Path(tempfile.gettempdir()) and folder.name.startswith("rdflow-events-")
    assert folder == relay_folder(deep)  # every process of the server finds the same one
    assert len(os.fsencode(folder / f"{'0' * 8}{events_relay.SUFFIX}")) <= 100
