"""A resident process with the stages' libraries loaded, which forks one child per stage.

Each stage command is a new Python process that imports pandas, scikit-learn, matplotlib
and skops again: ~6.6 s of start-up over nine stages, a third of `dvc repro --force` on the
bundled export (bench/README.md). The first stage command starts this server in the
background and runs its own stage as before. The server loads the libraries on CPU time
nothing else wants (_load_when_idle); once the basics are in (its socket appears then; until
then commands run their stages themselves), the next commands hand theirs to it, while a
copy of it loads the rest and then takes its place (serve). For each command, the server
forks a child with what it has loaded, which imports what else its stage needs. The child
takes the command's working folder, environment, umask, arguments and standard streams
(passed over a Unix socket, the streams as file descriptors), runs the stage as
`python -m gym_churn.stages` does, and sends back its exit code, which the command exits
with. What a stage writes and logs is the same either way.

- One server per Python, package source and installed libraries (a fingerprint of their
  files' sizes and times): an edited module or an upgraded library gets a new server, so
  no stage runs stale code. A server exits after IDLE_SECONDS without a stage.
- If the command dies (Ctrl-C, a kill), its child's process group is killed: nothing is
  written after dvc saw the stage end.
- Linux only (fork); GYM_CHURN_SERVER=0 turns it off. Anything that fails before the
  child starts the stage falls back to running it in the command's own process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import struct
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import gym_churn

IDLE_SECONDS = 1800.0  # half an hour: an analyst reads results between experiments
BASICS = 2  # the first steps of _steps(): loaded before the socket appears
STARTED = b"R"  # the child has the request and runs the stage
LENGTH = struct.Struct("!I")
CODE = struct.Struct("!i")
MAX_SOCKET_PATH = 100  # bytes: Linux refuses Unix socket paths of 108 and more


def enabled() -> bool:
    """Whether stage commands use a server here."""
    return sys.platform == "linux" and os.environ.get("GYM_CHURN_SERVER", "1") != "0"


def fingerprint(package: Path | None = None) -> str:
    """What a server's loaded code depends on: this Python, every file of the package and
    the library folders of sys.path (their times change when a library is installed)."""
    digest = hashlib.sha256(f"{sys.executable}\0{sys.version}\0".encode())
    package = package or Path(gym_churn.__file__).parent
    for path in sorted(package.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    prefixes = (sys.prefix, sys.base_prefix)
    for entry in sys.path:
        if entry and entry.startswith(prefixes) and os.path.isdir(entry):
            digest.update(f"{entry}\0{os.stat(entry).st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


def socket_path(folder: Path | None = None) -> Path | None:
    """The server's socket for this code, in a folder only this user can enter (None when
    that folder is someone else's or open to others, or the path too long for a socket)."""
    folder = folder or Path(tempfile.gettempdir()) / f"gym-churn-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    stat = folder.lstat()
    if stat.st_uid != os.getuid() or stat.st_mode & 0o077 or not folder.is_dir():
        return None
    path = folder / f"{fingerprint()}.sock"
    return path if len(os.fsencode(path)) < MAX_SOCKET_PATH else None


def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def served(stage: str, options: list[str]) -> int | None:
    """Run `stage` on the server and return its exit code; None when there is none to use
    (it is then started for the next stage command, and this one runs in its own process)."""
    if not enabled():
        return None
    try:
        path = socket_path()
    except OSError:
        return None
    if path is None:
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        conn.close()
        if not _running(path):  # none, or one still loading: this stage runs here either way
            start(path)
        return None
    except OSError:
        conn.close()
        return None
    request = json.dumps(
        {
            "stage": stage,
            "options": options,
            "argv": sys.argv,
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "umask": _umask(),
        }
    ).encode()
    with conn:
        try:
            socket.send_fds(conn, [LENGTH.pack(len(request))], [0, 1, 2])
            conn.sendall(request)
            if conn.recv(1) != STARTED:
                return None  # the server went away before the stage started: run it here
        except OSError:
            return None
        code = _recv_exactly(conn, CODE.size)
    if len(code) < CODE.size:
        sys.stderr.write(f"stage {stage}: its process on the stage server ended early\n")
        return 1
    return CODE.unpack(code)[0]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _lock(path: Path) -> int:
    """The lock a server holds as long as it lives (loading included), as an open file."""
    return os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)


def _running(path: Path) -> bool:
    """Whether a server for `path` is alive (it may still be loading the libraries)."""
    import fcntl

    fd = _lock(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases it if we got it
    return False


def start(path: Path) -> None:
    """Start a server on `path` in the background, in a process group of its own (a
    Ctrl-C does not reach it) but this command's session (see _load_when_idle), holding
    none of this process's files (a pipe it held open would keep dvc waiting)."""
    import subprocess

    with contextlib.suppress(OSError):
        subprocess.Popen(
            [sys.executable, "-m", "gym_churn.stages._server", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            process_group=0,
            cwd="/",
        )


# ------------------------------------------------------------------ the server's side


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    head, fds, _, _ = socket.recv_fds(conn, LENGTH.size, 3)
    if len(head) < LENGTH.size:
        head += _recv_exactly(conn, LENGTH.size - len(head))
    (size,) = LENGTH.unpack(head)
    return json.loads(_recv_exactly(conn, size)), fds


def _watch(conn: socket.socket, done: Any) -> None:
    """Kill the stage's process group when its command goes away before the stage ends."""
    import signal

    with contextlib.suppress(OSError):
        while conn.recv(1):
            pass
    if not done.is_set():
        os.killpg(0, signal.SIGKILL)


def run_stage(stage: str, options: list[str]) -> int:
    """The stage's main, as `python -m gym_churn.stages` runs it; its exit code."""
    import traceback

    from gym_churn.stages.__main__ import load_stage

    try:
        return load_stage(stage).main(options)
    except SystemExit as exc:
        if exc.code is None:
            return 0
        return exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # as an uncaught error ends a Python process: traceback, code 1
        traceback.print_exc()
        return 1


def _child(conn: socket.socket, listening: socket.socket) -> NoReturn:
    """In the forked child: become the command (folder, environment, streams), run the
    stage, send its exit code, and end (with code 1 if anything failed before the stage)."""
    try:
        _become_and_run(conn, listening)
    finally:
        os._exit(1)


def _become_and_run(conn: socket.socket, listening: socket.socket) -> None:
    import threading

    listening.close()  # only the server accepts: a child must not keep its socket alive
    request, fds = _receive(conn)
    # a session of its own: its own process group, so a kill reaches what the stage forks
    os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.umask(request["umask"])
    sys.argv = request["argv"]
    conn.sendall(STARTED)
    from gym_churn.cli import configure_logging

    configure_logging()  # as the stage would, with the command's GYM_CHURN_LOG_LEVEL
    logging.getLogger(__name__).debug("run by the stage server (pid %d)", os.getpid())
    done = threading.Event()
    threading.Thread(target=_watch, args=(conn, done), daemon=True).start()
    code = run_stage(request["stage"], request["options"])
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    done.set()
    with contextlib.suppress(OSError):
        conn.sendall(CODE.pack(code))
    os._exit(code)


def _steps() -> list[Callable[[], object]]:
    """What the server loads, in order: the modules every stage imports (pandas, the
    contract), the plotting library four stages and the report draw with, each stage's
    modules, and what the stages import lazily for model files."""
    import importlib

    def load(name: str) -> Callable[[], object]:
        return lambda: importlib.import_module(name)

    stages = importlib.import_module("gym_churn.stages.__main__").stage_names()
    return [
        load("gym_churn.io"),
        lambda: importlib.import_module("gym_churn.plots")._pyplot(),
        # by name: a stage's code is what the stage imports (its dvc.yaml deps), not a list
        *(load(f"gym_churn.stages.{stage}") for stage in stages),
        load("skops.io"),
    ]


def _load_when_idle(steps: list[Callable[[], object]]) -> None:
    """Run `steps` on CPU time no other process wants, with collection off meanwhile and
    what they made frozen out of its reach after (the children share these pages).

    A server starts while its pipeline runs, and on two cores that pipeline's stages (the
    report draws in two processes) and dvc need both: loading at the lowest nice value, or
    with the server's session (autogroup) at nice 19, slowed the report stage from 1.4 to
    1.8 s (bench/README.md); under SCHED_IDLE, in the command's session, it ran in 1.4-1.5 s.
    The policy is per thread and the server forks its children from the main one, so the
    loading happens in a thread of its own: served stages run at the usual priority without
    the right to raise it back."""
    import gc
    import threading

    failed: list[BaseException] = []

    def load() -> None:
        try:
            with contextlib.suppress(AttributeError, OSError):  # no SCHED_IDLE: load anyway
                os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))
            for step in steps:
                step()
        except BaseException as exc:  # a broken import fails the server, as in the main thread
            failed.append(exc)

    gc.disable()
    thread = threading.Thread(target=load, name="load")
    thread.start()
    thread.join()
    gc.freeze()
    gc.enable()
    if failed:
        raise failed[0]


def _bind(path: Path) -> tuple[socket.socket, int]:
    """A listening socket at `path` (in place of one there), and its inode."""
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    loading = path.with_suffix(f".{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        loading.unlink()
    listening.bind(str(loading))
    listening.listen(16)
    os.replace(loading, path)  # at once: a command finds this server or the one before
    return listening, path.stat().st_ino


def serve(path: Path, idle: float = IDLE_SECONDS) -> None:
    """Accept stage commands on `path` until `idle` seconds pass without one.

    The socket appears once the basics are loaded (BASICS steps: pandas, the contract,
    matplotlib): a served child imports what else its stage needs. Meanwhile a forked copy
    of the server loads the rest and then takes the socket over, and this one ends once its
    stages are done. Loading never happens in a process that forks children at the time
    (a child forked in the middle of an import would find that module's lock taken)."""
    import fcntl

    lock = _lock(path)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        return  # another server is alive
    steps = _steps()
    _load_when_idle(steps[:BASICS])
    listening, bound = _bind(path)
    successor = os.fork()
    if successor == 0:  # the copy that loads the rest; it shares the lock (one open file)
        _take_over(listening, path, steps[BASICS:], idle)
    try:
        _accept(listening, bound, path, idle, successor)
    finally:
        os.close(lock)


def _take_over(
    listening: socket.socket, path: Path, steps: list[Callable[[], object]], idle: float
) -> NoReturn:
    """In the forked copy: load `steps`, put a socket of its own in place of the first
    one, and serve until idle; then end."""
    listening.close()
    code = 1
    try:
        _load_when_idle(steps)
        _accept(*_bind(path), path, idle)
        code = 0
    finally:
        os._exit(code)


def _accept(
    listening: socket.socket, bound: int, path: Path, idle: float, successor: int = 0
) -> None:
    """Fork a child per command until `idle` s pass without one, or another server took
    `path` over; then wait for the children, and remove the socket if it is still ours."""
    import select
    import time

    children: set[int] = set()
    try:
        last = time.monotonic()
        while _ours(path, bound) and (children or time.monotonic() - last < idle):
            ready, _, _ = select.select([listening], [], [], 1.0)
            for pid in [*children, successor]:
                with contextlib.suppress(ChildProcessError):
                    if pid and os.waitpid(pid, os.WNOHANG)[0]:
                        children.discard(pid)
            if not ready:
                continue
            conn, _ = listening.accept()
            last = time.monotonic()
            pid = os.fork()
            if pid == 0:
                _child(conn, listening)
            children.add(pid)
            conn.close()
    finally:
        if _ours(path, bound):  # not a newer server's socket
            with contextlib.suppress(OSError):
                path.unlink()
        listening.close()
        for pid in children:  # the stages this server started run to their end
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _ours(path: Path, bound: int) -> bool:
    try:
        return path.stat().st_ino == bound
    except OSError:
        return False


if __name__ == "__main__":  # python -m gym_churn.stages._server SOCKET [IDLE_SECONDS]
    serve(Path(sys.argv[1]), *(float(a) for a in sys.argv[2:3]))
