"""What the Hydra apps share: turning the toolkit's input errors into one clear line and exit code 2."""

from __future__ import annotations

import errno
import functools
import logging
import sys
from collections.abc import Callable
from typing import TypeVar

from hydra.errors import InstantiationException

from autolabel.errors import DataError

T = TypeVar("T")
log = logging.getLogger("autolabel")


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors caused by the user's input or settings (not bugs): reported without a traceback."""
    from autolabel.job.runner import JobError
    from autolabel.model.detector import ModelError
    from autolabel.review.label_studio_client import LabelStudioError

    return (DataError, ModelError, JobError, LabelStudioError, FileNotFoundError)


# OS errors the user can fix (space, permissions), not bugs: reported in one line like bad input.
FIXABLE_OS_ERRORS = {
    errno.ENOSPC: ("disk full", "free some space and rerun the same command"),
    errno.EDQUOT: ("disk quota exceeded", "free some space and rerun the same command"),
    errno.EACCES: ("permission denied", "fix its permissions (or choose another folder) and rerun"),
    errno.EPERM: ("operation not permitted", "fix its permissions (or choose another folder) and rerun"),
    errno.EROFS: ("read-only file system", "choose a folder on a writable disk and rerun"),
}


def os_error_message(exc: OSError) -> str | None:
    """One line for an OS error the user can fix (None for others): the file, what is wrong, what to do."""
    if exc.errno not in FIXABLE_OS_ERRORS:
        return None
    what, fix = FIXABLE_OS_ERRORS[exc.errno]
    return f"{exc.filename or 'an output file'}: {what}; finished work is kept; {fix}"


def check_environment() -> None:
    """DataError naming the first environment variable the toolkit reads whose value is unusable
    (``AUTOLABEL_THREADS``, ``XDG_CACHE_HOME``, ``YOLO_CONFIG_DIR``; the Label Studio variables are
    checked by the apps that read them)."""
    from autolabel.model.offline import environment_problems

    problems = environment_problems()
    if problems:
        raise DataError(problems[0])


def clear_errors(task: Callable[..., T]) -> Callable[..., T]:
    """Wrap a Hydra task so that bad input ends with ``error: <message>`` and exit status 2.

    Bad input is a DataError, ModelError, JobError or a missing file, and an OS error that the user can
    fix: a full disk, a read-only or unwritable folder (:data:`FIXABLE_OS_ERRORS`). The environment is
    checked first (:func:`check_environment`).
    """

    @functools.wraps(task)
    def wrapper(*args, **kwargs):
        try:
            check_environment()
            return task(*args, **kwargs)
        except (*user_errors(), InstantiationException) as exc:
            cause = exc.__cause__ if isinstance(exc, InstantiationException) else exc
            if not isinstance(cause, user_errors()):
                raise
            _fail(str(cause))
        except OSError as exc:
            message = os_error_message(exc)
            if message is None:
                raise
            _fail(message)
        except KeyboardInterrupt:
            print("interrupted: finished work is kept; rerun the same command to resume", file=sys.stderr)
            sys.exit(130)

    return wrapper


def _fail(message: str) -> None:
    log.error("%s", message)
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)
