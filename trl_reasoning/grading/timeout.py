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

* Workers start lazily, up to `processes`, as fresh interpreters (`subprocess`, talking over two
  dedicated pipes with `multiprocessing.connection`). There is no `fork`, which is unsafe in a
  process that holds CUDA or threads, and, unlike multiprocessing's spawn and forkserver, no
  re-import of the caller's `__main__`, so an unguarded training script is never re-run.
  A killed worker is replaced in a background thread (about a second: sympy's import).
* A worker answers a "ready" message once its imports are done; start-up time is not counted
  against a job's time limit.
* With `memory_mb` set, each worker caps its own address space at that many MiB above what it
  starts with (Linux only), so a runaway computation fails with MemoryError instead of exhausting
  RAM. It is off by default; the time limit bounds most runaway work already.
* Any number of threads may call `call` at once; each takes an idle worker or waits for one.
* `call` raises `GradingTimeout` when the limit passes and `WorkerError` when the worker dies
  or the function raises; the grader turns both into verdicts.

`get_pool(processes)` returns the process-wide shared pool, growing it to `processes` workers if
asked for more and starting missing workers in the background; it is closed at interpreter exit.
"""

from __future__ import annotations

import atexit
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable

__all__ = ["WorkerPool", "GradingTimeout", "WorkerError", "get_pool", "default_processes"]

_START_TIMEOUT = 120.0
_PRELOAD = ["trl_reasoning.grading.equivalence", "latex2sympy2"]


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


def _serve(read_fd: int, write_fd: int, memory_mb: int | None) -> None:
    """Worker main loop: run (function, args) jobs until the pipe closes."""
    from multiprocessing.connection import Connection

    _limit_memory(memory_mb)
    for module in _PRELOAD:
        __import__(module)
    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    try:
        outbox.send(("ready", None))
    except OSError:  # the parent went away while we were importing
        return
    while True:
        try:
            job = inbox.recv()
        except (EOFError, OSError):
            return
        except Exception as error:  # a job that cannot be unpickled here (a function in `__main__`)
            try:
                outbox.send(("error", f"cannot load the job in the worker: {type(error).__name__}: {error}"[:500]))
            except Exception:
                return
            continue
        if job is None:
            return
        function, args = job
        try:
            outbox.send(("ok", function(*args)))
        except BaseException as error:  # the worker must survive anything a job does
            try:
                outbox.send(("error", f"{type(error).__name__}: {error}"[:500]))
            except Exception:
                return


_WORKER_COMMAND = (
    "import sys; from trl_reasoning.grading.timeout import _serve; "
    "_serve(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) or None)"
)


class _Worker:
    """One child interpreter, started with `subprocess` so it never re-runs the caller's `__main__`."""

    def __init__(self, memory_mb: int | None):
        from multiprocessing.connection import Connection

        to_child_read, to_child_write = os.pipe()
        from_child_read, from_child_write = os.pipe()
        package_root = str(Path(__file__).resolve().parents[2])
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(
            [package_root] + [part for part in environment.get("PYTHONPATH", "").split(os.pathsep) if part]
        )
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _WORKER_COMMAND, str(to_child_read), str(from_child_write), str(memory_mb or 0)],
                pass_fds=(to_child_read, from_child_write),
                stdin=subprocess.DEVNULL,
                env=environment,
                close_fds=True,
            )
        finally:
            os.close(to_child_read)
            os.close(from_child_write)
        self.outbox = Connection(to_child_write, readable=False)
        self.inbox = Connection(from_child_read, writable=False)
        if not self.inbox.poll(_START_TIMEOUT):
            self.kill()
            raise WorkerError("grading worker did not start")
        try:
            self.inbox.recv()
        except (EOFError, OSError) as error:
            self.kill()
            raise WorkerError(f"grading worker died while starting: {error}") from None

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.wait(5)
        except Exception:
            pass
        self._close_pipes()

    def _close_pipes(self) -> None:
        for connection in (self.outbox, self.inbox):
            try:
                connection.close()
            except Exception:
                pass

    def stop(self) -> None:
        try:
            self.outbox.send(None)
            self.process.wait(1)
        except Exception:
            self.kill()
            return
        self._close_pipes()


class WorkerPool:
    """Up to `processes` persistent workers; `call(function, args, timeout)` runs one job on one."""

    def __init__(self, processes: int | None = None, memory_mb: int | None = None):
        self.processes = processes or default_processes()
        self.memory_mb = memory_mb
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._count = 0
        self._closed = False
        self.restarts = 0

    def grow(self, processes: int) -> None:
        """Allow at least `processes` workers."""
        with self._lock:
            self.processes = max(self.processes, processes)

    def prestart(self) -> None:
        """Start the missing workers in background threads; calls wait only for the first to be ready."""
        while True:
            with self._lock:
                if self._closed or self._count >= self.processes:
                    return
                self._count += 1
            threading.Thread(target=self._replace, name="grading-worker-start", daemon=True).start()

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
                    return _Worker(self.memory_mb)
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
            self.restarts += 1
        # start the replacement in the background, so the caller gets its verdict now
        threading.Thread(target=self._replace, name="grading-worker-restart", daemon=True).start()

    def _replace(self) -> None:
        try:
            worker = _Worker(self.memory_mb)
        except BaseException:
            with self._lock:
                self._count -= 1
            return
        if self._closed:
            worker.stop()
            with self._lock:
                self._count -= 1
        else:
            self._idle.put(worker)

    def call(self, function: Callable, args: tuple, timeout: float) -> Any:
        """Run `function(*args)` in a worker; raise `GradingTimeout` after `timeout` seconds."""
        worker = self._acquire()
        try:
            worker.outbox.send((function, args))
            if not worker.inbox.poll(timeout):
                self._discard(worker)
                raise GradingTimeout(f"grading took longer than {timeout:g} s")
            status, payload = worker.inbox.recv()
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
        _shared.prestart()
        return _shared
