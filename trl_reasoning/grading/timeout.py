"""A small pool of persistent worker processes with a hard time limit per call.

    >>> from trl_reasoning.grading.timeout import WorkerPool
    >>> pool = WorkerPool(processes=2)
    >>> pool.call(pow, (2, 10), timeout=5.0)
    1024
    >>> pool.close()

Why processes and not `signal.alarm`: an alarm only works on the main thread of the main
interpreter, and a trainer calls reward functions from wherever it likes. Here the caller sends
a job down a pipe and waits on the pipe with a timeout (`Connection.poll`), which works from any
thread. A worker that does not answer in time is killed and a fresh one takes its place, so a
hung sympy call never blocks the next one.

* Workers start lazily, up to `processes`, with the `forkserver` start method where it exists
  (else `spawn`), never plain `fork`: forking a process that holds CUDA or threads is unsafe.
  The forkserver preloads sympy and latex2sympy2 once, so a replacement worker starts in
  milliseconds.
* A worker answers a "ready" message once its imports are done; start-up time is not counted
  against a job's time limit.
* Each worker caps its own address space (`memory_mb`, default 4096 MiB above what it starts
  with, Linux only), so a runaway computation fails with MemoryError instead of exhausting RAM.
* Any number of threads may call `call` at once; each takes an idle worker or waits for one.
* `call` raises `GradingTimeout` when the limit passes and `WorkerError` when the worker dies
  or the function raises; the grader turns both into verdicts.

`get_pool(processes)` returns the process-wide shared pool, growing it to `processes` workers if
asked for more; it is closed at interpreter exit.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import queue
import threading
from typing import Any, Callable

__all__ = ["WorkerPool", "GradingTimeout", "WorkerError", "get_pool", "default_processes"]

_START_TIMEOUT = 120.0
_PRELOAD = ["trl_reasoning.grading.equivalence"]


class GradingTimeout(Exception):
    """The job ran past its time limit; its worker was killed."""


class WorkerError(Exception):
    """The worker died, or the function raised inside it."""


def default_processes() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _limit_memory(memory_mb: int | None) -> None:
    if not memory_mb:
        return
    try:
        import resource

        with open("/proc/self/statm") as statm:
            current = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = current + memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, ValueError):
        pass  # not Linux: the time limit still holds


def _serve(connection, memory_mb: int | None) -> None:
    """Worker main loop: run (function, args) jobs until the pipe closes."""
    _limit_memory(memory_mb)
    for module in _PRELOAD:
        __import__(module)
    connection.send(("ready", None))
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        function, args = job
        try:
            connection.send(("ok", function(*args)))
        except BaseException as error:  # the worker must survive anything a job does
            try:
                connection.send(("error", f"{type(error).__name__}: {error}"[:500]))
            except Exception:
                return


def _context():
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


class _Worker:
    def __init__(self, context, memory_mb: int | None):
        self.connection, child = context.Pipe(duplex=True)
        self.process = context.Process(target=_serve, args=(child, memory_mb), daemon=True)
        self.process.start()
        child.close()
        if not self.connection.poll(_START_TIMEOUT):
            self.kill()
            raise WorkerError("grading worker did not start")
        try:
            self.connection.recv()
        except (EOFError, OSError) as error:
            self.kill()
            raise WorkerError(f"grading worker died while starting: {error}") from None

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(5)
        except Exception:
            pass
        try:
            self.connection.close()
        except Exception:
            pass

    def stop(self) -> None:
        try:
            self.connection.send(None)
            self.process.join(1)
        except Exception:
            pass
        if self.process.is_alive():
            self.kill()
        else:
            self.connection.close()


class WorkerPool:
    """Up to `processes` persistent workers; `call(function, args, timeout)` runs one job on one."""

    def __init__(self, processes: int | None = None, memory_mb: int | None = 4096):
        self.processes = processes or default_processes()
        self.memory_mb = memory_mb
        self._context = _context()
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._count = 0
        self._closed = False
        self.restarts = 0

    def grow(self, processes: int) -> None:
        """Allow at least `processes` workers."""
        with self._lock:
            self.processes = max(self.processes, processes)

    def _acquire(self) -> _Worker:
        while True:
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                pass
            with self._lock:
                if self._closed:
                    raise WorkerError("the grading pool is closed")
                may_start = self._count < self.processes
                if may_start:
                    self._count += 1
            if may_start:
                try:
                    return _Worker(self._context, self.memory_mb)
                except BaseException:
                    with self._lock:
                        self._count -= 1
                    raise
            try:
                return self._idle.get(timeout=0.5)
            except queue.Empty:
                continue

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._count -= 1
            self.restarts += 1

    def call(self, function: Callable, args: tuple, timeout: float) -> Any:
        """Run `function(*args)` in a worker; raise `GradingTimeout` after `timeout` seconds."""
        worker = self._acquire()
        try:
            worker.connection.send((function, args))
            if not worker.connection.poll(timeout):
                self._discard(worker)
                raise GradingTimeout(f"grading took longer than {timeout:g} s")
            status, payload = worker.connection.recv()
        except GradingTimeout:
            raise
        except (EOFError, OSError, BrokenPipeError) as error:
            self._discard(worker)
            raise WorkerError(f"grading worker died: {error}") from None
        if self._closed:
            worker.stop()
        else:
            self._idle.put(worker)
        if status == "ok":
            return payload
        raise WorkerError(payload)

    def warm(self) -> None:
        """Start every worker now rather than on first use (a benchmark wants start-up excluded)."""
        workers = [self._acquire() for _ in range(self.processes)]
        for worker in workers:
            self._idle.put(worker)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            worker.stop()
            with self._lock:
                self._count -= 1

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


_shared: WorkerPool | None = None
_shared_lock = threading.Lock()


def get_pool(processes: int | None = None) -> WorkerPool:
    """The shared pool, created on first use and grown to `processes` workers when asked."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared._closed:
            _shared = WorkerPool(processes)
            atexit.register(_shared.close)
        elif processes:
            _shared.grow(processes)
        return _shared
