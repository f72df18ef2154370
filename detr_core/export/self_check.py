"""The export's self-check: onnxruntime against PyTorch on real images before a file is written.

Cases: two bundled sample images at two input sizes (batch of one each), and both together as a
padded batch of two (the mask input at work). For each case both outputs must agree within the
reference's own ONNX test tolerances (facebookresearch/detr `test_all.py`: rtol 1e-3, atol 1e-5),
and the detections must be the same: every query's score within 1e-3, its box at IoU >= 0.99 and
its class equal (unless PyTorch's two best classes are themselves within the score tolerance).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..images import load_image, list_images
from ..infer.onnx_runner import postprocess
from ..infer.preprocess import batch_images, preprocess

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples" / "images"
OUTPUTS = ("pred_logits", "pred_boxes")


@dataclass(frozen=True)
class CheckTolerances:
    rtol: float = 1e-3  # |onnx - torch| <= atol + rtol * |torch|, elementwise
    atol: float = 1e-5
    min_iou: float = 0.99  # per query, between the two engines' boxes
    score_tol: float = 1e-3  # per query, between the two engines' scores


@dataclass(frozen=True)
class CaseResult:
    case: str  # e.g. "sample_00001.jpg at 192x256"
    output: str  # "pred_logits" | "pred_boxes" | "detections"
    max_abs_diff: float  # outputs: max |onnx - torch|; detections: max score difference
    excess: float  # outputs: max of |onnx - torch| - (atol + rtol |torch|), <= 0 passes
    note: str = ""  # detections: the worst query, when it fails
    ok: bool = True


@dataclass
class CheckReport:
    images: list[str]  # the sample images used
    rows: list[CaseResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def failures(self) -> list[CaseResult]:
        return [r for r in self.rows if not r.ok]

    def summary(self) -> str:
        """One line: passed with the largest differences, or the first failure and by how much."""
        if self.ok:
            worst = {o: max(r.max_abs_diff for r in self.rows if r.output == o) for o in OUTPUTS}
            return (f"self-check passed on {len({r.case for r in self.rows})} cases: max |onnx - torch| "
                    f"{worst['pred_logits']:.1e} on pred_logits, {worst['pred_boxes']:.1e} on pred_boxes")
        r = self.failures()[0]
        if r.output == "detections":
            return f"self-check failed: detections differ on {r.case}: {r.note}"
        return (f"self-check failed: {r.output} differs on {r.case} by {r.max_abs_diff:.3g} "
                f"(max |onnx - torch|; {r.excess:.3g} over the tolerance)"
                + (f", and {len(self.failures()) - 1} more failing checks" if len(self.failures()) > 1 else ""))

    def table(self) -> str:
        lines = [f"{'case':<40} {'output':<12} {'max diff':>10} {'':>4}"]
        lines += [f"{r.case:<40} {r.output:<12} {r.max_abs_diff:>10.2e} {'ok' if r.ok else 'FAIL':>4}"
                  + (f"  {r.note}" if r.note and not r.ok else "") for r in self.rows]
        return "\n".join(lines)


def sample_images(count: int = 2) -> list[tuple[str, Image.Image]]:
    """The first `count` bundled samples; synthetic shapes when the samples are not installed."""
    paths = list_images(SAMPLES) if SAMPLES.is_dir() else []
    if len(paths) >= count:
        return [(p.name, load_image(p)) for p in paths[:count]]
    from ..data.synthetic import make_image

    return [(f"synthetic {i}", make_image(seed=3, index=i)[0]) for i in range(count)]


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[Q, 4] xyxy each -> [Q] IoU of matching rows."""
    lt = np.maximum(a[:, :2], b[:, :2])
    rb = np.minimum(a[:, 2:], b[:, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = lambda x: np.clip(x[:, 2:] - x[:, :2], 0, None).prod(-1)  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-12)


def _compare_detections(case: str, torch_out, onnx_out, sizes, tol: CheckTolerances) -> CaseResult:
    worst_score, note, ok = 0.0, "", True
    for b, (image_size, input_size) in enumerate(sizes):
        ref = postprocess(torch_out[0][b], torch_out[1][b], image_size, input_size, [])
        got = postprocess(onnx_out[0][b], onnx_out[1][b], image_size, input_size, [])
        score_diff = np.abs(ref.scores - got.scores)
        iou = _box_iou(ref.boxes_xyxy, got.boxes_xyxy)
        prob = np.sort(torch.from_numpy(torch_out[0][b]).softmax(-1)[:, :-1].numpy(), -1)
        tie = prob[:, -1] - prob[:, -2] < tol.score_tol if prob.shape[1] > 1 else np.zeros(len(prob), bool)
        bad_label = (ref.labels != got.labels) & ~tie
        worst_score = max(worst_score, float(score_diff.max()))
        for q in range(len(ref.scores)):
            if ok and score_diff[q] > tol.score_tol:
                ok, note = False, f"image {b}, query {q}: score {got.scores[q]:.5f} vs {ref.scores[q]:.5f}"
            elif ok and iou[q] < tol.min_iou:
                ok, note = False, f"image {b}, query {q}: box IoU {iou[q]:.4f} < {tol.min_iou}"
            elif ok and bad_label[q]:
                ok, note = False, f"image {b}, query {q}: class {got.labels[q]} vs {ref.labels[q]}"
    return CaseResult(case, "detections", worst_score, 0.0, note, ok)


def _cases(images: list[tuple[str, Image.Image]], min_size: int, max_size: int):
    """(name, images [B, 3, H, W], mask [B, H, W], [(image size, input size)] per image): image a
    at the model's size, image b at three quarters of it, then both as a padded batch of two."""
    (name_a, a), (name_b, b) = images[:2]
    small, small_max = max(32, round(min_size * 0.75)), max(32, round(max_size * 0.75))
    x_a = preprocess(a, min_size, max_size)  # [3, h, w]
    x_b = preprocess(b, small, small_max)
    if x_a.shape == x_b.shape:  # the batch of two must pad something: narrow image b
        b = b.crop((0, 0, max(1, b.width * 3 // 4), b.height))
        x_b = preprocess(b, small, small_max)
    sizes_a, sizes_b = (a.size, tuple(x_a.shape[1:])), (b.size, tuple(x_b.shape[1:]))
    for name, x, sizes in ((name_a, x_a, sizes_a), (name_b, x_b, sizes_b)):
        yield (f"{name} at {x.shape[1]}x{x.shape[2]}", x[None],
               torch.zeros(1, *x.shape[1:], dtype=torch.bool), [sizes])
    stack, mask = batch_images([x_a, x_b])  # [2, 3, H, W], [2, H, W]
    yield f"padded batch of 2 at {stack.shape[2]}x{stack.shape[3]}", stack, mask, [sizes_a, sizes_b]


@torch.inference_mode()
def self_check(model: torch.nn.Module, session, min_size: int, max_size: int,
               tol: CheckTolerances = CheckTolerances(),
               images: list[tuple[str, Image.Image]] | None = None) -> CheckReport:
    """`model` (the plain DETR, eval mode, CPU fp32) against the onnxruntime `session` of its export."""
    images = images or sample_images(2)
    report = CheckReport([name for name, _ in images])
    for case, x, mask, sizes in _cases(images, min_size, max_size):
        out = model(x, mask, aux=False)
        ref = [out[k].float().numpy() for k in OUTPUTS]
        got = session.run(list(OUTPUTS), {"images": x.numpy(), "mask": mask.numpy()})
        for name, r, g in zip(OUTPUTS, ref, got):
            if r.shape != g.shape:
                report.rows.append(CaseResult(case, name, float("inf"), float("inf"),
                                              f"shape {g.shape} vs {r.shape}", False))
                continue
            diff = np.abs(g - r)
            excess = float((diff - (tol.atol + tol.rtol * np.abs(r))).max())
            finite = bool(np.isfinite(g).all())
            report.rows.append(CaseResult(case, name, float(diff.max()), excess,
                                          "" if finite else "non-finite values", excess <= 0 and finite))
        if all(r.shape == g.shape for r, g in zip(ref, got)):
            report.rows.append(_compare_detections(case, ref, got, sizes, tol))
    return report
