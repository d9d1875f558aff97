"""Processes a build starts die with it: a SIGKILLed build leaves no worker computing and no
MkDocs writing a staging tree (standard library only)."""
from __future__ import annotations

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int | None = None) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux; elsewhere a no-op),
    and exit at once if `parent`, the process that started it, is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the next build reaps what is left
        pass
    if parent is not None and os.getppid() != parent:
        os._exit(1)  # the parent died before the request was in place
