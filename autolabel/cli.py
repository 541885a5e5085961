"""What the Hydra apps share: turning the toolkit's input errors into one clear line and exit code 2."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import TypeVar

from hydra.errors import InstantiationException

from autolabel.yolo_format import DataError

T = TypeVar("T")
log = logging.getLogger("autolabel")


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors caused by the user's input or settings (not bugs): reported without a traceback."""
    from autolabel.detector import ModelError
    from autolabel.job import JobError

    return (DataError, ModelError, JobError, FileNotFoundError)


def clear_errors(task: Callable[..., T]) -> Callable[..., T]:
    """Wrap a Hydra task so that bad input ends with ``error: <message>`` and exit status 2."""

    @functools.wraps(task)
    def wrapper(*args, **kwargs):
        try:
            return task(*args, **kwargs)
        except (*user_errors(), InstantiationException) as exc:
            cause = exc.__cause__ if isinstance(exc, InstantiationException) else exc
            if not isinstance(cause, user_errors()):
                raise
            log.error("%s", cause)
            print(f"error: {cause}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted: finished work is kept; rerun the same command to resume", file=sys.stderr)
            sys.exit(130)

    return wrapper
