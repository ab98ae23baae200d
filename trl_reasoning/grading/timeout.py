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
* One spare worker (`spares=1`) is kept started on the side: a worker killed for a timeout is
  replaced by it at once, so a batch right after a timeout runs at full capacity, and a new spare
  starts in the background. Each worker runs one small comparison before it reports ready, so its
  first job is not slowed by the parser building its tables.
* `cpu_seconds()` is the CPU time the workers used (killed ones included), for benchmarks.
* Waiting for a free worker (all busy, or replacements still starting after several timeouts in
  a row) is limited to `timeout` too, so `call` returns within twice `timeout`; only the first
  start of the pool's workers is not timed.
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
import time
from pathlib import Path
from typing import Any, Callable

from trl_reasoning.grading.equivalence import compare_normalized

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
    _warm_up()
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


def _warm_up() -> None:
    """One small comparison before "ready", so a fresh worker's first real job runs at full speed
    (latex2sympy2's parser builds its tables on first use)."""
    try:
        compare_normalized("\\frac{x+1}{2}", "\\frac{1}{2}x+\\frac{1}{2}")
    except Exception:
        pass


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux `/proc`); 0.0 where that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


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

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.process.pid)

    def kill(self) -> None:
        self.final_cpu_seconds = self.cpu_seconds()
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
        self.final_cpu_seconds = self.cpu_seconds()
        try:
            self.outbox.send(None)
            self.process.wait(1)
        except Exception:
            self.kill()
            return
        self._close_pipes()


class WorkerPool:
    """Up to `processes` persistent workers; `call(function, args, timeout)` runs one job on one.

    `spares` more workers are kept started and idle on the side (default 1): a worker killed for a
    timeout is replaced by a spare at once, so the pool keeps its capacity, and a new spare starts
    in the background.
    """

    def __init__(self, processes: int | None = None, memory_mb: int | None = None, spares: int = 1):
        self.processes = processes or default_processes()
        self.memory_mb = memory_mb
        self.spares = max(0, spares)
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._standby: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._count = 0  # workers serving calls (started or starting)
        self._first_starts = 0  # of those, first starts still under way (waiting for them is not timed)
        self._spare_count = 0  # spares (started or starting)
        self._live: set[_Worker] = set()
        self._retired_cpu = 0.0
        self._closed = False
        self.restarts = 0

    def grow(self, processes: int) -> None:
        """Allow at least `processes` workers."""
        with self._lock:
            self.processes = max(self.processes, processes)

    def prestart(self) -> None:
        """Start the missing workers and spares in background threads; calls wait only for the first."""
        while True:
            with self._lock:
                if self._closed or self._count >= self.processes:
                    break
                self._count += 1
                self._first_starts += 1
            threading.Thread(target=self._replace, args=(True,), name="grading-worker-start", daemon=True).start()
        self._top_up_spares()

    def _top_up_spares(self) -> None:
        while True:
            with self._lock:
                if self._closed or self._spare_count >= self.spares:
                    return
                self._spare_count += 1
            threading.Thread(target=self._start_spare, name="grading-spare-start", daemon=True).start()

    def _new_worker(self) -> _Worker:
        worker = _Worker(self.memory_mb)
        with self._lock:
            self._live.add(worker)
        return worker

    def _retire(self, worker: _Worker, kill: bool) -> None:
        worker.kill() if kill else worker.stop()
        with self._lock:
            self._live.discard(worker)
            self._retired_cpu += getattr(worker, "final_cpu_seconds", 0.0)

    def _start_spare(self) -> None:
        try:
            worker = self._new_worker()
        except BaseException:
            with self._lock:
                self._spare_count -= 1
            return
        if self._closed:
            self._retire(worker, kill=False)
            with self._lock:
                self._spare_count -= 1
        else:
            self._standby.put(worker)

    def _acquire(self, deadline: float | None = None) -> _Worker:
        """An idle worker; start one when fewer than `processes` exist (start-up is not timed).

        Waiting for a busy worker, or for a replacement to start, ends at `deadline` with
        `GradingTimeout`, so a call never waits longer than its time limit for a worker.
        """
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
                    return self._new_worker()
                except BaseException:
                    with self._lock:
                        self._count -= 1
                    raise
            wait = 0.5
            if deadline is not None and not self._first_starts:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    raise GradingTimeout("no grading worker became free within the time limit")
            try:
                return self._idle.get(timeout=wait)
            except queue.Empty:
                continue

    def _discard(self, worker: _Worker) -> None:
        self._retire(worker, kill=True)
        with self._lock:
            self.restarts += 1
        try:
            spare = self._standby.get_nowait()
        except queue.Empty:
            # no spare ready: start the replacement in the background, so the caller gets its verdict now
            threading.Thread(target=self._replace, name="grading-worker-restart", daemon=True).start()
        else:
            with self._lock:
                self._spare_count -= 1
            self._idle.put(spare)  # capacity is back at once
        self._top_up_spares()

    def _replace(self, first: bool = False) -> None:
        try:
            try:
                worker = self._new_worker()
            finally:
                if first:
                    with self._lock:
                        self._first_starts -= 1
        except BaseException:
            with self._lock:
                self._count -= 1
            return
        if self._closed:
            self._retire(worker, kill=False)
            with self._lock:
                self._count -= 1
        else:
            self._idle.put(worker)

    def call(self, function: Callable, args: tuple, timeout: float) -> Any:
        """Run `function(*args)` in a worker; raise `GradingTimeout` after `timeout` seconds.

        At most `timeout` is spent waiting for a free worker and at most `timeout` running the job,
        so a call returns within twice `timeout` (plus the start of the pool's first workers).
        """
        worker = self._acquire(time.monotonic() + timeout)
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
            self._retire(worker, kill=False)
        else:
            self._idle.put(worker)
        if status == "ok":
            return payload
        raise WorkerError(payload)

    def ready(self) -> int:
        """Workers started and idle now (spares not counted): the capacity a new batch finds."""
        return self._idle.qsize()

    def cpu_seconds(self) -> float:
        """CPU seconds used by this pool's workers so far, killed ones included (Linux; else 0.0)."""
        with self._lock:
            live = list(self._live)
            retired = self._retired_cpu
        return retired + sum(worker.cpu_seconds() for worker in live)

    def warm(self) -> None:
        """Start every worker (and spare) now rather than on first use (a benchmark wants start-up excluded)."""
        workers = [self._acquire() for _ in range(self.processes)]
        for worker in workers:
            self._idle.put(worker)
        self._top_up_spares()
        deadline = time.monotonic() + _START_TIMEOUT
        while self._standby.qsize() < self.spares and time.monotonic() < deadline:
            with self._lock:
                if self._spare_count < self.spares:
                    break  # a spare failed to start; the pool still works without it
            time.sleep(0.05)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        for waiting, counter in ((self._idle, "_count"), (self._standby, "_spare_count")):
            while True:
                try:
                    worker = waiting.get_nowait()
                except queue.Empty:
                    break
                self._retire(worker, kill=False)
                with self._lock:
                    setattr(self, counter, getattr(self, counter) - 1)

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
