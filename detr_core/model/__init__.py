"""The DETR network: config, backbone, position encoding, transformer, attention, the detector
head, box operations, Hungarian matcher and set criterion (as the reference keeps `models/`)."""
