"""A guard against a reference-count bug of the PySide6 6.12 build on CPython 3.11.

Every call into PySide6 that returns nothing (e.g. `widget.setEnabled(True)`,
`app.processEvents()`) drops one reference to `None` it never took, and every `signal.emit()`
drops one to the bool it returns. From Python 3.12 on these objects are immortal (PEP 683) and
the extra decrement is harmless; on 3.11 their counts fall with every call until CPython aborts
with "Fatal Python error: none_dealloc: deallocating None" (or bool_dealloc) — after a few
thousand calls, i.e. minutes into a session. Reproduce with:

    for _ in range(10_000): QWidget().setEnabled(True)   # aborts on 3.11 without the guard

The guard does what 3.12 does: it gives None, True and False a count so large (2**40) that no
session can use it up. It only touches CPython < 3.12 release builds and checks that the count
really moved (and undoes it otherwise).
"""
from __future__ import annotations

import ctypes
import sys

BOOST = 1 << 40
_done = False


def protect_singletons() -> bool:
    """Make None, True and False effectively immortal where they are not. True if applied."""
    global _done
    if _done or sys.version_info >= (3, 12) or sys.implementation.name != "cpython" \
            or hasattr(sys, "gettotalrefcount"):  # a debug build has a different object layout
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
