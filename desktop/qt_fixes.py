"""Work-around for PySide6 6.12.0 reference-count bugs that abort the app in a long session.

On Python 3.11, PySide6 6.12.0 returns ``True`` from ``Signal.emit()`` and ``None`` from every
void Qt method (and converts a Python ``None`` returned to Qt, e.g. by ``data()``) without taking
a reference. Each call drops one reference to ``True`` or ``None``; when a count reaches zero the
interpreter aborts ("Fatal Python error: bool_dealloc / none_dealloc"). A GUI makes thousands of
such calls a minute. PySide6 6.11.3 does not have the bug, and Python 3.12+ makes both immortal.

``install()`` measures, it does not assume: it makes probe calls and only if references go
missing does it give back the lost references (CPython 3.11's reference count is the object's
first field), topping the counts up to a safe margin from a timer. The counts never reach zero,
during the session or at interpreter shutdown. The real fix is PySide6 < 6.12 (see the report).
"""

from __future__ import annotations

import logging
import sys
from typing import Optional

from PySide6.QtCore import QObject, QTimer, Signal

log = logging.getLogger(__name__)

MARGIN = 1_000_000  # references kept above the starting count: far more than a second's worth of calls
_timer: Optional[QTimer] = None


class _Probe(QObject):
    ping = Signal()


def leaking_singletons(count: int = 50) -> list:
    """The singletons (``True``, ``None``) whose references Qt calls lose on this install."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython" or hasattr(sys, "gettotalrefcount"):
        return []  # immortal objects (or a layout this fix does not know): leave it alone
    probe = _Probe()
    leaks = []
    before = sys.getrefcount(True)
    for _ in range(count):
        probe.ping.emit()
    if before - sys.getrefcount(True) >= count:
        leaks.append(True)
    before = sys.getrefcount(None)
    for _ in range(count):
        probe.setObjectName("probe")  # a void method: must return None with a reference
    if before - sys.getrefcount(None) >= count:
        leaks.append(None)
    return leaks


def _top_up(targets: dict) -> None:
    import ctypes

    for value, target in targets.items():
        deficit = target - sys.getrefcount(value)
        if deficit > 0:
            # ob_refcnt is the first field of every object on CPython < 3.12 (non-debug builds);
            # written while holding the GIL, like every other reference count change.
            ctypes.c_ssize_t.from_address(id(value)).value += deficit


def install(parent: Optional[QObject] = None) -> bool:
    """Activate the work-around once per process if this PySide6 has the bug; returns whether."""
    global _timer
    if _timer is not None:
        return True
    leaks = leaking_singletons()
    if not leaks:
        return False
    import PySide6

    log.warning("PySide6 %s loses references to %s on Qt calls (Python %s); compensating to avoid a "
                "crash. Install PySide6 < 6.12 to remove this.", PySide6.__version__,
                " and ".join(map(repr, leaks)), sys.version.split()[0])
    targets = {value: sys.getrefcount(value) + MARGIN for value in leaks}
    _top_up(targets)
    _timer = QTimer(parent)
    _timer.setInterval(1000)
    _timer.timeout.connect(lambda: _top_up(targets))
    _timer.start()
    return True
