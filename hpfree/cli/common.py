"""What every hpfree command shares: one-line errors, exit codes, ``--debug``.

Every console script's ``main`` is :func:`run` around the command's body, so no traceback
reaches the user (``--debug`` shows it) and the exit code means the same everywhere:

==== ===================================================================================
0    all done
1    some run failed or was left corrupt; an output could not be written (read-only
     location, full disk); an internal error
2    bad input: an unknown option, a value outside its domain, a directory that is not a
     sweep — refused before any work starts
==== ===================================================================================

Hydra is asked to re-raise what it would print as a traceback (``HYDRA_FULL_ERROR=1``), so
its composition errors and a run directory it cannot create come here too.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from contextlib import contextmanager
from typing import Callable, Iterator, NoReturn, Optional, Sequence

from hpfree.errors import ConfigError, CorruptFile, OutputError
from hpfree.outcome import BAD_INPUT, FAILED, OK  # noqa: F401  (re-exported)

DEBUG_FLAG = "--debug"


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) and the shared ``--debug`` flag."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument(DEBUG_FLAG, action="store_true",
                          help="show the Python traceback of an error")

    def error(self, message: str) -> NoReturn:  # one line, not usage + message
        self.exit(BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _bad_input(exc: BaseException) -> bool:
    """Errors that mean the command line or a config is wrong (Hydra's and OmegaConf's)."""
    try:
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, (HydraException, OmegaConfBaseException))


def describe(exc: BaseException) -> tuple[int, str]:
    """(exit code, one line) for an error that ended a command."""
    if isinstance(exc, ConfigError):
        return BAD_INPUT, str(exc)
    if isinstance(exc, OSError):
        if exc.filename and not isinstance(exc, OutputError):
            return FAILED, f"{exc.filename}: {exc.strerror or exc}"
        return FAILED, str(exc) or type(exc).__name__
    if isinstance(exc, CorruptFile):
        return FAILED, f"{exc} (unreadable)"
    if _bad_input(exc):
        from hpfree.preflight import one_line

        return BAD_INPUT, one_line(exc)
    first = (str(exc).strip().splitlines() or [""])[0]
    return FAILED, (f"{type(exc).__name__}: {first} (an internal error; {DEBUG_FLAG} shows "
                    "the traceback)")


def run(prog: str, body: Callable[[list[str]], Optional[int]],
        argv: Optional[Sequence[str]] = None) -> NoReturn:
    """Exit with ``body(argv)``'s code (None = 0), or with one line for what it raised."""
    args = list(sys.argv[1:] if argv is None else argv)
    if DEBUG_FLAG in args:
        os.environ["HPFREE_DEBUG"] = "1"
    hydra_full_error = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises; we report
    try:
        with reporting(prog):
            code = body(args)
    finally:
        if hydra_full_error is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = hydra_full_error
    sys.exit(code or OK)


@contextmanager
def reporting(prog: str) -> Iterator[None]:
    """Turn what the block raises into one line and its exit code (``SystemExit``).

    Also used inside Hydra task functions: Hydra would add its own "Error executing job"
    line to an exception that leaves one.
    """
    try:
        yield
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr, flush=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("HPFREE_DEBUG") == "1":
            traceback.print_exc()
        code, line = describe(exc)
        print(f"{prog}: error: {line}", file=sys.stderr, flush=True)
        sys.exit(code)


def without_debug(argv: Sequence[str]) -> list[str]:
    return [a for a in argv if a != DEBUG_FLAG]
