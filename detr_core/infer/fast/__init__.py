"""Fused CPU inference kernels: batch-norm folding, the fused ResNet body, Winograd F(4x4,3x3)
convolutions and their per-thread workspace. Outputs equal the plain model's."""
