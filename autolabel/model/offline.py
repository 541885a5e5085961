"""Keep ultralytics offline and on every core; must run before ``import ultralytics``.

ultralytics reaches the network in four places we care about: its font check (a download from GitHub on
every train/val unless ``Arial.ttf`` sits in its config dir), hub/analytics (off with ``YOLO_OFFLINE=1``),
weight downloads (we only build models from YAML) and ``pip install`` of optional packages (its patched
``PIL.Image.open`` asks for ``pi-heif`` on an unknown file; off with ``YOLO_AUTOINSTALL=false``).
It also pins ``OMP_NUM_THREADS=1`` at import and later ``torch.set_num_threads(cpu_count - 1)``: on a
2-core machine that cuts training speed by 1.7x, so the detector wrapper sets the thread count back
(see :func:`torch_threads`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV_CONFIG_DIR = "YOLO_CONFIG_DIR"
_FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")


def default_config_dir() -> Path:
    """The project-owned ultralytics config dir: ``$XDG_CACHE_HOME/autolabel/ultralytics``."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "autolabel" / "ultralytics"


def torch_threads() -> int:
    """Threads torch should use: ``AUTOLABEL_THREADS`` if set, else every core this process may run on."""
    env = os.environ.get("AUTOLABEL_THREADS")
    if env:
        return max(1, int(env))
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
    root = Path(os.environ.setdefault(ENV_CONFIG_DIR, str(default_config_dir()))).expanduser()
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
