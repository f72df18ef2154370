"""Taking a model out of the workbench: ONNX export with a self-check against PyTorch.

    from detr_core.export import export_onnx
    result = export_onnx("run/best.pth", "model.onnx")
    from detr_core.infer.onnx_runner import OnnxDetector   # torch-free
    OnnxDetector.from_file("model.onnx").detect("image.jpg")
Needs the `export` extra (onnx, onnxruntime).
"""
from .onnx_export import ExportConfig, ExportResult, export_onnx
from .self_check import CheckReport, CheckTolerances

__all__ = ["CheckReport", "CheckTolerances", "ExportConfig", "ExportResult", "export_onnx"]
