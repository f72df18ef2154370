"""The DETR Workbench window (PySide6). Only this package imports Qt."""
from .refcount_guard import protect_singletons

protect_singletons()  # before any Qt call: see refcount_guard.py (PySide6 6.12 on CPython 3.11)
