"""Resolution presets for training, by name (`--resolution 512`), and what `--resolution`
accepts. No torch: the fine-tune dialog lists them before torch is loaded."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResolutionPreset:
    """A training resize recipe, by name (`--resolution 512`): the sizes training draws from and
    the evaluation size. (The workbench's input size, (shortest, longest) side, is a plain tuple.)"""
    name: str
    scales: tuple[int, ...]  # training: shortest side chosen from these
    max_size: int  # longest side at most this (training and evaluation)
    crop_resize: tuple[int, ...]  # crop branch: shortest side before the crop
    crop_min: int  # crop branch: crop width/height drawn from crop_min..crop_max
    crop_max: int

    @property
    def eval_size(self) -> int:
        """Shortest side at evaluation: the largest training scale, as the reference (800)."""
        return max(self.scales)


def _scaled(name: str, eval_size: int) -> ResolutionPreset:
    """The reference recipe (800 / 1333) scaled to another evaluation size."""
    f = eval_size / 800

    def r16(x: float) -> int:  # keep sizes multiples of 16 (the reference's are multiples of 32)
        return max(16, int(round(x * f / 16)) * 16)

    return ResolutionPreset(name, tuple(sorted({r16(s) for s in range(480, 801, 32)})), round(1333 * f),
                      tuple(round(s * f) for s in (400, 500, 600)), round(384 * f), round(600 * f))


RESOLUTIONS: dict[str, ResolutionPreset] = {
    "reference": _scaled("reference", 800),  # 480..800, max 1333: the published recipe (GPU)
    "640": _scaled("640", 640),
    "512": _scaled("512", 512),  # the speed benchmark's size; fine-tuning R50 on a CPU
    "384": _scaled("384", 384),  # the `small` preset's evaluation size
    "256": _scaled("256", 256),  # the `tiny` and `demo` presets'
    "192": _scaled("192", 192),  # the bundled demo model's training
}


RESOLUTION_CHOICES = ("auto", *RESOLUTIONS)  # what --resolution accepts; auto: the model's own size


def resolution_preset(name: str) -> ResolutionPreset:
    try:
        return RESOLUTIONS[name]
    except KeyError:
        raise ValueError(f"unknown resolution {name!r}; expected one of {', '.join(RESOLUTIONS)}") from None


def resolution_for(min_size: int) -> ResolutionPreset:
    """The preset whose evaluation size is a model config's `min_size`, else the recipe scaled."""
    for res in RESOLUTIONS.values():
        if res.eval_size == min_size:
            return res
    return _scaled(str(min_size), min_size)
