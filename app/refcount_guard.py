"""A guard against a reference-count bug of the PySide6 6.12 build on CPython 3.11.

Every call into PySide6 that returns nothing (e.g. `widget.setEnabled(True)`,
`app.processEvents()`) drops one reference to `None` it never took, and every `signal.emit()`
drops one to the bool it returns. From Python 3.12 on these objects are immortal (PEP 683) and
the extra decrement is harmless; on 3.11 their counts fall with every call until CPython aborts
with "Fatal Python error: none_dealloc: deallocating None" (or bool_dealloc) — after a few
thousand calls, i.e. minutes into a session. Reproduce with:

    for _ in range(10_000): QWidget().setEnabled(True)   # aborts on 3.11 without the guard

The guard does what 3.12 does: it gives None, True and False a count so large (2**40) that no
session can use it up. It only touches CPython < 3.12 release builds running an affected PySide6
release (6.11.3 is not affected; pyproject.toml excludes 6.12.0, but a user may still have it),
and checks that the count really moved (and undoes it otherwise).
"""
from __future__ import annotations

import ctypes
import sys
from importlib import metadata

BOOST = 1 << 40
AFFECTED = ("6.12",)  # PySide6 releases known to over-release None/True/False
_done = False


def pyside_is_affected() -> bool:
    """Whether the installed PySide6 is a release with the bug (read from metadata: no Qt import)."""
    for dist in ("PySide6-Essentials", "PySide6"):
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
        return version.startswith(AFFECTED)
    return False


def protect_singletons() -> bool:
    """Make None, True and False effectively immortal where they are not. True if applied."""
    global _done
    if _done or sys.version_info >= (3, 12) or sys.implementation.name != "cpython" \
            or hasattr(sys, "gettotalrefcount") \
            or not pyside_is_affected():  # a debug build has a different object layout
        return False
    for obj in (None, True, False):
        count = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field of PyObject
        before = sys.getrefcount(obj)
        count.value += BOOST
        if sys.getrefcount(obj) - before != BOOST:  # not the layout we expected: leave it alone
            count.value -= BOOST
            return False
    _done = True
    return True
