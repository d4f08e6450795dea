"""The command line's entry point: signal handlers first, then the (slower) imports.

A Ctrl-C or SIGTERM in the first half second of a command lands while click, numpy and
numba are being imported. The handlers are installed here, before any of that, so even
then the command stops with one line (``crftag: interrupted``, status 130; ``crftag:
terminated``, 143) instead of a traceback.
"""

from __future__ import annotations

import signal
import sys
import threading

INTERRUPTED, TERMINATED = 130, 143


class Terminated(Exception):
    """SIGTERM, raised where Python next runs so that open atomic writes are discarded."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def install_handlers() -> None:
    """SIGTERM raises :class:`Terminated`; SIGINT raises KeyboardInterrupt (Python's own, put
    back in case the parent process set it to be ignored or to its default)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def stop(code: int) -> None:
    sys.stderr.write("crftag: interrupted\n" if code == INTERRUPTED else "crftag: terminated\n")
    sys.stderr.flush()
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Run the ``crftag`` command line (:func:`crftag.cli.main`)."""
    install_handlers()
    try:
        from crftag.cli import main as cli_main
    except KeyboardInterrupt:
        stop(INTERRUPTED)
    except Terminated:
        stop(TERMINATED)
    cli_main(argv)


if __name__ == "__main__":
    main()
