"""Live health events: `GET /backendhealth/stream` pushes every state change as a Server-Sent Event.

Rules of this module:
- publishing never blocks and never fails: each subscriber has a bounded queue; one that falls
  behind by more than QUEUE events is told so (`event: overflow`) and dropped, and reconnects;
- at most MAX_SUBSCRIBERS streams at once (429 beyond), each sending a comment every
  HEARTBEAT seconds so proxies and browsers keep it open and a closed client is noticed;
- the data of an event is the JSON the events route lists (`operations.event_json`);
- `close` ends every stream, so that an open dashboard never holds the gateway's stop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from probegate.admin.answers import SAFE_HEADERS, error

QUEUE = 256
MAX_SUBSCRIBERS = 64
HEARTBEAT = 15.0
OVERFLOW = b"event: overflow\ndata: {}\n\n"


class EventHub:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Any]] = set()

    @property
    def subscribers(self) -> int:
        return len(self._queues)

    def publish(self, event: dict[str, Any]) -> None:
        """Hand one event to every subscriber (called on the event loop)."""
        for queue in list(self._queues):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._queues.discard(queue)
                _drain_and_end(queue)

    def subscribe(self) -> asyncio.Queue[Any]:
        """A queue of event dicts; a `bytes` item is the stream's last words."""
        queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Any]) -> None:
        self._queues.discard(queue)

    def close(self) -> None:
        """End every stream (the gateway stops: an open stream must not hold the shutdown)."""
        for queue in list(self._queues):
            _drain_and_end(queue, b"")
        self._queues.clear()


def _drain_and_end(queue: asyncio.Queue[Any], why: bytes = OVERFLOW) -> None:
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(why)  # the stream sends this (if anything) and ends


async def stream(request: Request, hub: EventHub) -> Response:
    if hub.subscribers >= MAX_SUBSCRIBERS:
        return error(
            429, "TooManyRequests", "too many event streams are open", {"Retry-After": "5"}
        )
    queue = hub.subscribe()

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 2000\n: probegate health events\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), HEARTBEAT)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield b": keep-alive\n\n"
                    continue
                if isinstance(event, bytes):
                    if event:
                        yield event
                    return
                yield b"event: health\ndata: " + json.dumps(event).encode() + b"\n\n"
        finally:
            hub.unsubscribe(queue)

    headers = {**dict(SAFE_HEADERS), "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
