"""Where training events go: the JSON-lines file, stdout, and a terminal progress bar.

    sink = EventSinks([JsonLines(run_dir / "metrics.jsonl"), JsonLines(sys.stdout), TerminalProgress()])
    engine.train(..., on_event=sink)
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO, Iterable

from ..coco.metrics import format_table
from .events import Event


class JsonLines:
    """One JSON object per line, flushed after each, to a file (appended) or an open stream."""

    def __init__(self, target: str | os.PathLike | IO[str]):
        if isinstance(target, (str, os.PathLike)):
            self.stream = open(Path(target), "a", encoding="utf-8")
            self.owned = True
        else:
            self.stream = target
            self.owned = False

    def __call__(self, event: Event) -> None:
        self.stream.write(event.to_json() + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.owned:
            self.stream.close()


class TerminalProgress:
    """A tqdm bar over the run's optimizer steps when stderr is a terminal; epoch summaries,
    evaluation tables, warnings and the outcome as text on stderr always."""

    def __init__(self, stream: IO[str] | None = None, prefix: str = "detr-workbench train"):
        self.stream = stream if stream is not None else sys.stderr
        self.prefix = prefix
        self.bar = None

    def _write(self, text: str) -> None:
        from tqdm import tqdm

        if self.bar is not None:
            tqdm.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def __call__(self, event: Event) -> None:
        from tqdm import tqdm

        d = event.to_dict()
        kind = d["type"]
        if kind == "start":
            what = "resuming" if d["resumed"] else "training"
            self._write(f"{self.prefix}: {what} {d['epochs']} epochs x {d['steps_per_epoch']} steps, "
                        f"{d['batch_size']} images per step on {d['device']}"
                        + (f" x {d['world_size']} processes" if d["world_size"] > 1 else ""))
            self.bar = tqdm(total=d["total_steps"], initial=d["start_step"], unit="step", file=self.stream,
                            disable=None, dynamic_ncols=True, desc="train")
        elif kind == "step" and self.bar is not None:
            self.bar.update(d["step"] - self.bar.n)
            self.bar.set_postfix(epoch=f"{d['epoch']}", loss=f"{d['loss']:.3f}" if d["loss"] is not None else "nan",
                                 lr=f"{d['lr']:.1e}", img_s=f"{d['images_per_s']:.1f}", refresh=False)
        elif kind == "eval":
            self._write(f"{self.prefix}: validation after epoch {d['epoch']} ({d['images']} images, "
                        f"{d['duration_s']:.0f} s)\n{format_table(d['metrics'])}")
        elif kind == "epoch":
            ap = d["metrics"] and d["metrics"].get("AP50")
            extra = f", val AP50 {100 * ap:.1f}" if isinstance(ap, float) else ""
            self._write(f"{self.prefix}: epoch {d['epoch']}/{d['epochs']}: loss {d['loss']:.4f}{extra}, "
                        f"{d['images_per_s']:.1f} images/s, {d['duration_s']:.0f} s, eta {_hms(d['eta_s'])}")
        elif kind == "checkpoint":
            self._write(f"{self.prefix}: checkpoint ({d['reason']}) {d['path']}")
        elif kind == "warning":
            self._write(f"{self.prefix}: warning: {d['message']}")
        elif kind in ("end", "error"):
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            if kind == "end":
                self._write(f"{self.prefix}: {d['status']} after {d['step']} steps in {_hms(d['elapsed_s'])}"
                            + (f"; final weights {d['model']}" if d["model"] else "")
                            + (f"; resume with --resume ({d['checkpoint']})" if d["status"] == "stopped" else ""))


def _hms(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class EventSinks:
    """Calls every sink with every event."""

    def __init__(self, sinks: Iterable = ()):
        self.sinks = list(sinks)

    def __call__(self, event: Event) -> None:
        for sink in self.sinks:
            sink(event)

    def close(self) -> None:
        for sink in self.sinks:
            if hasattr(sink, "close"):
                sink.close()
