"""Keep ultralytics offline and on every core; must run before ``import ultralytics``.

ultralytics reaches the network in four places we care about: its font check (a download from GitHub on
every train/val unless ``Arial.ttf`` sits in its config dir), hub/analytics (off with ``YOLO_OFFLINE=1``),
weight downloads (we only build models from YAML) and ``pip install`` of optional packages (its patched
``PIL.Image.open`` asks for ``pi-heif`` on an unknown file; off with ``YOLO_AUTOINSTALL=false``).
It also pins ``OMP_NUM_THREADS=1`` at import and later ``torch.set_num_threads(cpu_count - 1)``: on a
2-core machine that cuts training speed by 1.7x, so the detector wrapper sets the thread count back
(see :func:`torch_threads`).

The environment variables read here (``AUTOLABEL_THREADS``, ``XDG_CACHE_HOME``, ``YOLO_CONFIG_DIR``) are
checked by :func:`environment_problems`: the apps refuse to start on an unusable value with one line
(``autolabel.cli.clear_errors``), and the import-time configuration falls back to the default for it
(so importing never fails, nor creates a folder relative to the working directory).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

ENV_CONFIG_DIR = "YOLO_CONFIG_DIR"
ENV_THREADS = "AUTOLABEL_THREADS"
ENV_CACHE = "XDG_CACHE_HOME"
_FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")
# The user's own values, before configure_offline sets YOLO_CONFIG_DIR: what environment_problems checks.
_USER_ENV = {name: os.environ.get(name, "") for name in (ENV_THREADS, ENV_CACHE, ENV_CONFIG_DIR)}


def _folder_problem(name: str, value: str, *, absolute: bool) -> str | None:
    """Why folder ``value`` of variable ``name`` cannot hold our files (one line), or None."""
    path = Path(value).expanduser()
    fix = f"unset {name} or set it to a folder you can write to"
    if absolute and not path.is_absolute():
        return f"{name}={value!r}: must be an absolute path (XDG base directory spec); {fix}"
    if path.exists() and not path.is_dir():
        return f"{name}={value}: is a file, not a folder; {fix}"
    nearest = next((p for p in (path, *path.parents) if p.exists()), None)
    if nearest is None or not nearest.is_dir() or not os.access(nearest, os.W_OK | os.X_OK):
        return f"{name}={value}: cannot create or write it (at {nearest}); {fix}"
    return None


def environment_problems(env: Mapping[str, str] | None = None) -> list[str]:
    """One line per unusable value of the variables this module reads (empty when all are usable).

    env: the variables (default: the process's values before :func:`configure_offline` set any).
    """
    env = _USER_ENV if env is None else env
    problems = []
    threads = env.get(ENV_THREADS, "").strip()
    if threads and not (threads.isdigit() and int(threads) >= 1):
        problems.append(
            f"{ENV_THREADS}={threads!r}: must be a whole number >= 1 (torch threads per process); "
            "unset it to use every core"
        )
    for name, absolute in ((ENV_CACHE, True), (ENV_CONFIG_DIR, False)):
        value = env.get(name, "")
        problem = _folder_problem(name, value, absolute=absolute) if value else None
        if problem:
            problems.append(problem)
    return problems


def _usable(name: str) -> str:
    """Variable ``name``'s value, or "" when unset or unusable (then the default applies)."""
    value = os.environ.get(name, "")
    return "" if not value or environment_problems({name: value}) else value


def default_config_dir() -> Path:
    """The project-owned ultralytics config dir: ``$XDG_CACHE_HOME/autolabel/ultralytics`` (a relative or
    unusable ``XDG_CACHE_HOME`` is ignored, as the XDG spec says; the apps refuse it)."""
    cache = Path(_usable(ENV_CACHE) or Path.home() / ".cache")
    return cache / "autolabel" / "ultralytics"


def torch_threads() -> int:
    """Threads torch should use: ``AUTOLABEL_THREADS`` if set (and a whole number >= 1), else every core
    this process may run on."""
    env = _usable(ENV_THREADS)
    if env:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def configure_offline(config_dir: str | Path | None = None) -> Path:
    """Set the environment so that importing and running ultralytics makes no network call.

    Sets ``YOLO_OFFLINE=1`` and ``YOLO_CONFIG_DIR`` (kept if the user set it), places matplotlib's
    DejaVuSans as ``Arial.ttf`` where ultralytics' font check looks first, and stops ultralytics from
    pinning OpenMP to one thread. Returns the ultralytics settings folder. Idempotent.
    """
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "false"  # no `pip install` of optional packages at run time
    if config_dir is not None:
        os.environ[ENV_CONFIG_DIR] = str(config_dir)
    if not _usable(ENV_CONFIG_DIR):  # unset, or unusable (the apps refuse that with one line)
        os.environ[ENV_CONFIG_DIR] = str(default_config_dir())
    root = Path(os.environ[ENV_CONFIG_DIR]).expanduser()
    settings_dir = root / "Ultralytics"  # ultralytics appends this sub-folder to YOLO_CONFIG_DIR
    settings_dir.mkdir(parents=True, exist_ok=True)
    _install_fonts(settings_dir)
    os.environ.setdefault("OMP_NUM_THREADS", str(torch_threads()))
    return settings_dir


def _install_fonts(settings_dir: Path) -> None:
    missing = [settings_dir / name for name in _FONT_NAMES if not (settings_dir / name).exists()]
    if not missing:
        return
    import matplotlib  # ships DejaVuSans.ttf, which stands in for Arial in plots

    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for target in missing:
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # parallel jobs install it at once
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
