"""The process-wide thread budget: how many threads fastconv filters with at once, in all calls together.

``threads=None`` in a call means the budget; ``threads=k`` at most k of it. The budget is, in order: what
`set_threads` (or `thread_limit`) set; the environment's ``FASTCONV_NUM_THREADS``, else ``OMP_NUM_THREADS``;
else the cores this process may run on: its CPU affinity (``taskset``, ``os.sched_setaffinity``, cpusets), within
its container's CPU quota (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``). Calls running at once share it: a call
takes a thread slot for its caller, waiting while every slot is busy, and the free slots it may use for helpers.
"""
import math
import numbers
import os
import warnings
from contextlib import contextmanager
from pathlib import Path

from fastconv import _runtime

_ENV = ("FASTCONV_NUM_THREADS", "OMP_NUM_THREADS")


def _env_threads(environ=os.environ):
    """The budget the environment asks for, or 0 (FASTCONV_NUM_THREADS first; OMP_NUM_THREADS's first value)."""
    for name in _ENV:
        value = environ.get(name, "").split(",")[0].strip()
        if not value:
            continue
        if value.isdigit() and int(value) > 0:
            return int(value)
        warnings.warn(f"{name} must be a positive integer; got {environ[name]!r}: ignored", RuntimeWarning,
                      stacklevel=2)
    return 0


def cgroup_cpu_quota(root="/sys/fs/cgroup", cgroup_file="/proc/self/cgroup"):
    """Whole cores this process's CPU quota allows (quota / period, rounded up, the smallest over the process's
    cgroup and its ancestors), or None where no quota is set or cgroups are not there (macOS, Windows)."""
    try:
        lines = Path(cgroup_file).read_text().splitlines()
    except OSError:
        return None
    root = Path(root)
    limits = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        path = path.strip().lstrip("/")
        if controllers == "":       # cgroup v2: <root>/<path>/cpu.max holds "quota period" or "max period"
            for folder in _ancestors(root, path):
                fields = _read(folder / "cpu.max").split()
                if len(fields) == 2 and fields[0] != "max":
                    limits.append(_cores(fields[0], fields[1]))
        elif "cpu" in controllers.split(","):     # cgroup v1: cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us
            for mount in (root / controllers, root / "cpu", root / "cpu,cpuacct"):
                for folder in _ancestors(mount, path):
                    quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")
                    if quota and period and not quota.startswith("-"):
                        limits.append(_cores(quota, period))
    limits = [n for n in limits if n]
    return min(limits) if limits else None


def _ancestors(mount, path):
    folder = mount / path if path else mount
    while True:
        yield folder
        if folder == mount or folder.parent == folder:
            return
        folder = folder.parent


def _read(path):
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _cores(quota, period):
    try:
        quota, period = int(quota), int(period)
    except ValueError:
        return None
    return max(1, math.ceil(quota / period)) if quota > 0 and period > 0 else None


def _check_budget(n):
    if n is None:
        return 0
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be a positive int or None (automatic); got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be a positive int or None (automatic); got {n}")
    return int(min(n, 1024))


def set_threads(n):
    """Set how many threads fastconv filters with at once, in all calls of this process together.

    Parameters
    ----------
    n : int or None
        The budget; None returns to the automatic value (the environment, else the cores available: see
        `get_threads`).

    Returns
    -------
    int or None
        The previous setting (None if it was automatic).

    Raises
    ------
    TypeError
        If `n` is not an int or None.
    ValueError
        If `n` is not positive.

    Examples
    --------
    >>> import fastconv
    >>> previous = fastconv.set_threads(1)
    >>> fastconv.get_threads()
    1
    >>> _ = fastconv.set_threads(previous)
    """
    n = _check_budget(n)
    previous = _runtime.budget_setting()
    _runtime.set_budget(n)
    return previous or None


def get_threads():
    """How many threads fastconv filters with at once: the budget that ``threads=None`` means.

    Returns
    -------
    int
        `set_threads`' setting; else ``FASTCONV_NUM_THREADS`` or ``OMP_NUM_THREADS`` from the environment at
        import; else the cores this process may run on (CPU affinity, within a container's CPU quota).

    Examples
    --------
    >>> import fastconv
    >>> fastconv.get_threads() >= 1
    True
    """
    return _runtime.budget()


@contextmanager
def thread_limit(n):
    """Within the block, fastconv filters with at most `n` threads at once (process-wide, like `set_threads`).

    Examples
    --------
    >>> import numpy as np
    >>> import fastconv
    >>> with fastconv.thread_limit(1):
    ...     fastconv.get_threads()
    1
    """
    previous = set_threads(n)
    try:
        yield
    finally:
        set_threads(previous)


_runtime.set_fallback(_env_threads())
_runtime.set_quota(cgroup_cpu_quota() or 0)
