"""Run workers until SIGTERM or SIGINT, then drain: stop polling, let running activities
finish or heartbeat out within BYOK_WORKER_SHUTDOWN_SECONDS, and return 0."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Sequence

from temporalio.worker import Worker

log = logging.getLogger("byok.worker")
SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def run_until_signalled(workers: Sequence[Worker], grace: float) -> int:
    """0 after a drain on a signal; 1 when a worker failed on its own (the others drained)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():  # a second signal: the operator does not want to wait
            log.warning("second %s while draining: exiting now", sig.name)
            os._exit(1)
        log.info("%s: draining (no new tasks; running activities get %.0f s)", sig.name, grace)
        stop.set()

    for sig in SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    runs = [asyncio.create_task(w.run(), name=f"worker-{w.task_queue}") for w in workers]
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([*runs, stopping], return_when=asyncio.FIRST_COMPLETED)
        failed = [t for t in runs if t.done() and t.exception() is not None]
        for task in failed:
            log.error("%s failed: %r", task.get_name(), task.exception())
        # shutdown() waits for running activities up to graceful_shutdown_timeout, then
        # cancels them; their retries go to the next worker.
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        await asyncio.gather(*runs, return_exceptions=True)
        return 1 if failed else 0
    finally:
        stopping.cancel()
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
