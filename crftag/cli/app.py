"""The ``crftag`` command line: the group, its commands, and how errors end a command.

Each command lives in the module of its concern (:mod:`crftag.cli.training`, ``tagging``,
``evaluation``, ``data``, ``models``, ``features``, ``serving``) and is a thin wrapper over
library functions. Errors in user input print one line (``path:line: what is wrong``) on
stderr and exit with status 2; no traceback is shown for them.
"""

from __future__ import annotations

import errno
import io
import os
import sys

import click

from crftag._version import __version__
from crftag.cli import data, evaluation, features, models, serving, tagging, training
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
from crftag.errors import CrftagError, one_line

EXIT_USER_ERROR = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="crftag")
def cli() -> None:
    """crftag: fast feature-based named-entity tagging for tweets.

    \b
    Typical session:
      crftag fetch wnut16:train wnut16:dev
      crftag train wnut16:train --dev wnut16:dev -o wnut16.crftag
      crftag eval -m wnut16.crftag wnut16:dev
      echo "Watching the Lakers game in LA with @jimmy" | crftag tag -m wnut16.crftag

    Wherever a data file is expected, a registry name such as wnut16:train works
    too (see `crftag resources`).
    """


for _command in (training.train, tagging.tag, evaluation.eval_cmd, evaluation.stats, data.fetch,
                 data.resources, models.info, models.warmup, models.models_group, features.features,
                 training.search,
                 training.stability, data.split, tagging.spark_tag, models.backends, models.bench,
                 serving.serve):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning user errors into one line and exit status 2.

    SIGINT and SIGTERM stop the command with one line and status 130 / 143; files
    being written (models, outputs) are temporary files until complete, so an
    interrupted command leaves nothing half-written behind. An output that cannot be
    written (a full disk, standard output closed) is one line too.
    """
    install_handlers()
    _stand_in_for_closed_streams()
    try:
        cli.main(args=argv, prog_name="crftag", standalone_mode=False)
        sys.stdout.flush()  # a full disk behind standard output shows here, not at exit
    except click.UsageError as exc:  # one line, like every other user error
        cmd = exc.ctx.command_path if exc.ctx else "crftag"
        sub = cmd.removeprefix("crftag").strip()
        _fail(f"crftag: {sub + ': ' if sub else ''}{exc.format_message()} (see '{cmd} --help')")
    except click.ClickException as exc:
        _fail(f"crftag: {exc.format_message()}")
    except click.Abort:
        stop(INTERRUPTED)
    except CrftagError as exc:  # DataError, ModelError, OutputError: their message starts with the path
        _fail(f"crftag: {exc}")
    except BrokenPipeError:  # e.g. `crftag tag ... | head`
        _quiet_stdout()
        sys.stderr.close()
        sys.exit(1)
    except (KeyboardInterrupt, Interrupted):
        stop(INTERRUPTED)
    except Terminated:
        stop(TERMINATED)
    except OSError as exc:  # e.g. ENOSPC on standard output: one line, not a traceback
        code = signal_code(exc)
        if code is not None:
            stop(code)
        where = f"{exc.filename}: " if exc.filename is not None else ""
        _quiet_stdout()
        _fail(one_line(f"crftag: {where}{exc.strerror or exc}"))


class _ClosedStream(io.TextIOBase):
    """Standard input or output that was closed when crftag started (``>&-``, ``<&-``): Python
    leaves None there, and the first use would be an AttributeError. Reading or writing it is an
    OSError naming it instead (one line, status 2); it is no terminal, and flushing it is a no-op."""

    def __init__(self, what: str):
        self.what = what

    def _closed(self, *args: object) -> None:
        raise OSError(errno.EBADF, f"{self.what} is closed")

    write = read = read1 = readline = fileno = _closed  # type: ignore[assignment]

    def isatty(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    @property
    def buffer(self) -> _ClosedStream:  # readers read standard input's bytes
        return self


def _stand_in_for_closed_streams() -> None:
    if sys.stdout is None:
        sys.stdout = _ClosedStream("standard output")
    if sys.stdin is None:
        sys.stdin = _ClosedStream("standard input")


def _fail(message: str) -> None:
    """Every error is one line on stderr starting ``crftag: `` (then the file and line where
    there is one), and exit status 2."""
    if pending() is not None:  # a signal whose exception a library swallowed, leaving this error behind
        stop(pending())
    click.echo(message, err=True)
    sys.exit(EXIT_USER_ERROR)


def _quiet_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's last flush of what is
    still buffered does not fail (and print) a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    main()
