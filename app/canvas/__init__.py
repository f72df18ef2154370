"""The image canvas: a QGraphicsView whose scene coordinates are image pixels."""
from .canvas_widget import CanvasWidget

__all__ = ["CanvasWidget"]
