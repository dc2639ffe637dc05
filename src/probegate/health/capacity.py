"""A capacity: a cap on concurrent work (connects, probes in flight) whose permits are taken and
released in O(1).

Why not `asyncio.Semaphore`: its `locked()` scans every waiter, and under a burst of thousands of
probes that scan alone cost more than the probes. Rules: first come, first served; a waiter that
is cancelled after being handed a permit passes it on, so no permit is ever lost.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Capacity:
    def __init__(self, limit: int) -> None:
        self._free = limit
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_take(self) -> bool:
        if self._free > 0:
            self._free -= 1
            return True
        return False

    def wait(self) -> asyncio.Future[None]:
        """A place in the queue (after `try_take` failed): the future completes when a permit is
        handed to it. Cancel it to leave the queue; if it already completed, `release` the
        permit it was handed."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        return waiter

    async def take(self) -> None:
        if self.try_take():
            return
        waiter = self.wait()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a permit just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1
