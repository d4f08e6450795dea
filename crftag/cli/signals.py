"""How the command line stops on a signal: SIGINT and SIGTERM raise :class:`Interrupted` and
:class:`Terminated`, and :func:`stop` says one line (``crftag: interrupted``, status 130;
``crftag: terminated``, 143) and exits.

Used by :mod:`crftag.cli.entry`, which installs the handlers before the heavy imports, and by
:mod:`crftag.cli.app`. It imports nothing of crftag's and nothing slow.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

INTERRUPTED, TERMINATED = 130, 143


class Terminated(BaseException):
    """SIGTERM, raised where Python next runs so that open atomic writes are discarded. A
    BaseException, like KeyboardInterrupt: no ``except Exception`` on the way swallows it."""


class Interrupted(BaseException):
    """SIGINT in the command line. Not a KeyboardInterrupt, which click would catch and answer
    with a blank line of its own: the command says one line and nothing else."""


_received: list[int] = []  # every signal the handlers saw, even one a library then swallowed


def _on_sigterm(signum: int, frame: object) -> None:
    _received.append(TERMINATED)
    if _numba_initialising():
        _send_again(signal.SIGTERM)
    else:
        raise Terminated


def _on_sigint(signum: int, frame: object) -> None:
    _received.append(INTERRUPTED)
    if _numba_initialising():
        _send_again(signal.SIGINT)
    else:
        raise Interrupted


def _numba_initialising() -> bool:
    """Whether numba's package is being imported. Its C extensions import modules from C and,
    when that fails (our exception raised in the middle), print the traceback themselves
    (``PyErr_Print`` in ``_dispatcher``): a signal then waits until the import is over."""
    spec = getattr(sys.modules.get("numba"), "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


def _send_again(signum: int) -> None:
    """Send ``signum`` to this process again a moment later, to land where it can propagate."""
    timer = threading.Timer(0.01, os.kill, (os.getpid(), signum))
    timer.daemon = True
    timer.start()


def pending() -> int | None:
    """The status of the first signal received, else None: a ``try: import x / except: pass``
    in a library being imported swallows the exception, not the fact that the signal came."""
    return _received[0] if _received else None


def _redeliver(info: object) -> None:
    """An exception that cannot propagate (raised in a ctypes callback, as numba's LLVM makes
    while it loads cached kernels, or in a ``__del__``) is "ignored" by Python with a traceback
    on stderr. When it is one of ours, the signal is sent again a moment later instead, to land
    where it can propagate."""
    exc = getattr(info, "exc_value", None)
    if isinstance(exc, (Interrupted, Terminated)):
        _send_again(signal.SIGINT if isinstance(exc, Interrupted) else signal.SIGTERM)
    else:
        _previous_unraisablehook(info)


_previous_unraisablehook = sys.unraisablehook


def install_handlers() -> None:
    """SIGTERM raises :class:`Terminated`, SIGINT :class:`Interrupted` (unless the parent set
    SIGINT to be ignored: a background job stays immune)."""
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, _on_sigint)
        sys.unraisablehook = _redeliver
        signal.signal(signal.SIGTERM, _on_sigterm)  # last: once SIGTERM is caught, all is in place


def stop(code: int) -> None:
    """Say why the command stopped, in one line, and exit with ``code`` (further signals are
    ignored from here on: one line, however many times Ctrl-C is pressed)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # What had to be undone (atomic writes, worker pools) was undone while the exception rose to
    # here. Objects the signal cut short (numba's half-built LLVM modules, say) may complain or
    # crash when freed at interpreter exit (a SIGSEGV after the line was seen once in CI, with
    # a cold numba cache), so the process ends without finalisation: the line, the status.
    sys.unraisablehook = lambda info: None
    with contextlib.suppress(OSError, ValueError):  # standard output closed or full: nothing to say there
        sys.stdout.flush()
    sys.stderr.write("crftag: interrupted\n" if code == INTERRUPTED else "crftag: terminated\n")
    sys.stderr.flush()
    os._exit(code)


def signal_code(exc: BaseException) -> int | None:
    """The status for a signal exception anywhere in ``exc``'s chain of causes, else None."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, (Interrupted, KeyboardInterrupt)):
            return INTERRUPTED
        if isinstance(exc, Terminated):
            return TERMINATED
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None

