"""The command line's entry point: signal handlers first, then the (slower) imports.

A Ctrl-C or SIGTERM in the first half second of a command lands while click, numpy and
numba are being imported. The handlers (:mod:`crftag.cli.signals`) are installed here, before
any of that, so even then the command stops with one line (``crftag: interrupted``, status
130; ``crftag: terminated``, 143) instead of a traceback.
"""

from __future__ import annotations

from crftag.cli.signals import (
    INTERRUPTED,
    TERMINATED,
    Interrupted,
    Terminated,
    install_handlers,
    pending,
    signal_code,
    stop,
)

__all__ = ["INTERRUPTED", "TERMINATED", "Interrupted", "Terminated", "install_handlers", "main",
           "signal_code", "stop"]


def main(argv: list[str] | None = None) -> None:
    """Run the ``crftag`` command line (:func:`crftag.cli.app.main`)."""
    try:
        install_handlers()
        from crftag.cli.app import main as cli_main

        cli_main(argv)  # handles the signals itself once it runs; this catches the moments around
    except (KeyboardInterrupt, Interrupted):
        stop(INTERRUPTED)
    except Terminated:
        stop(TERMINATED)
    except SystemExit as exc:
        if exc.code not in (0, None) or pending() is None:
            raise
        stop(pending())  # a signal swallowed on the way, then a clean exit: still the signal's status
    except Exception as exc:
        # Python wraps an exception raised in some places (a class's __set_name__, say) in
        # another: a signal that arrived there is still a signal
        code = signal_code(exc) or pending()
        if code is None:
            raise
        stop(code)
    else:
        if pending() is not None:  # a library's bare except swallowed the signal's exception
            stop(pending())


if __name__ == "__main__":
    main()
