"""Exceptions that `detr_core` raises for bad user input.

Every message is one line that names the file (or device) and the problem, so the CLI and the GUI
can show it as is. Internal invariants use `assert` instead.
"""
from __future__ import annotations


class WorkbenchError(Exception):
    """Base class: a problem with the user's input, reported without a traceback."""


class ImageError(WorkbenchError):
    """An image file that cannot be read, decoded or used."""


class CheckpointError(WorkbenchError):
    """A checkpoint that cannot be read, has an unknown layout or does not fit the model."""


class DeviceError(WorkbenchError):
    """A device that was asked for but is not there."""


class DatasetError(WorkbenchError):
    """An annotation file or image folder that cannot be used."""


class EditRefused(DatasetError, ValueError):
    """An edit the COCO document refuses (a bad box, a taken or empty class name, an image already
    listed); the document is unchanged. A ValueError too, as these were before it existed."""


class NonFiniteLossError(WorkbenchError):
    """Training produced a NaN or infinite loss."""


class ExportError(WorkbenchError):
    """A model that cannot be exported, or whose export does not reproduce it."""
