"""A service stops when asked, even when one of its periodic jobs swallowed the cancellation (as
`asyncio.wait_for` does on Python 3.11 when its inner call completes in the same round as the cancel):
before, such a job's loop went on and the shutdown waited out its 30 s timeout."""

import asyncio

from kit.runtime import Runtime
from kit.settings import PlatformSettings


async def test_stop_ends_a_periodic_job_that_swallowed_its_cancellation():
    runtime = Runtime(PlatformSettings(service_name="stopping", bus="memory"), uses_store=False)
    running = asyncio.Event()
    rounds = 0

    async def swallows_cancel() -> None:
        nonlocal rounds
        rounds += 1
        running.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return  # what a racing wait_for does: the cancel is gone, the call returns normally

    runtime.every(0.01, swallows_cancel, name="swallows")
    await runtime.start()
    await asyncio.wait_for(running.wait(), 5)
    stopping = asyncio.create_task(runtime.stop())
    done, _ = await asyncio.wait({stopping}, timeout=5)  # not wait_for: its cancel would be swallowed too
    assert stopping in done, "the runtime did not stop within 5 s"
    assert rounds == 1  # and it did not run again after the stop
