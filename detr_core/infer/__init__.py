"""Inference: the Detector, its detections and attention maps, the reference preprocessing, and
`fast/` for the fused CPU kernels (batch-norm folding, fused ResNet, Winograd, workspace)."""
