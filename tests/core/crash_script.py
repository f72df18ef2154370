"""The scripted editing session of the crash tests (test_journal_crash.py), run in a child process
that is killed with SIGKILL at a random moment, and again in the test to know every state.

Steps are real CocoDocument edits (boxes added, moved, relabelled, deleted and put back, statuses,
class edits, image records), with an autosave (journal compaction) and a save every few steps,
exactly as the window's session does them: the JournalKeeper observes the document, each step is
one user action (`keeper.action()`, as the window's undo stack brackets each of its steps: one
journal frame, however many edits), saving goes through `CocoDocument.save` then `keeper.saved`.
After each step the child appends "<step> <monotonic time>" to a progress file with one unbuffered
write (it survives the SIGKILL).
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import time
from contextlib import nullcontext
from pathlib import Path

from app.document.journalling import JournalKeeper
from detr_core.coco import CocoDocument

COMPACT_EVERY = 17  # steps between autosaves (journal compactions)
SAVE_EVERY = 29  # steps between saves


def make_coco(images: int, boxes_per_image: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    data = {"info": {"description": "crash test"}, "images": [], "annotations": [],
            "categories": [{"id": 1, "name": "cat", "supercategory": ""},
                           {"id": 2, "name": "dog", "supercategory": ""}]}
    for i in range(1, images + 1):
        data["images"].append({"id": i, "file_name": f"img{i}.jpg", "width": 640, "height": 480})
        for _ in range(boxes_per_image):
            x, y = rng.uniform(0, 500), rng.uniform(0, 400)
            data["annotations"].append({"id": len(data["annotations"]) + 1, "image_id": i,
                                        "category_id": rng.choice((1, 2)),
                                        "bbox": [x, y, 20.5, 30.25], "area": 620.125, "iscrowd": 0})
    return data


def edit(doc: CocoDocument, rng: random.Random, undo: list) -> None:
    """One random edit (or the undo of an earlier one)."""
    choice = rng.random()
    if undo and choice < 0.15:
        kind, value = undo.pop()
        if kind == "insert":
            doc.insert_annotation(*value)
        elif kind == "restore":
            doc.restore(value)
        return
    anns = doc.annotations
    if choice < 0.35 or not anns:
        image = rng.choice(doc.images)
        doc.add_annotation(image["id"], rng.choice((1, 2)), [rng.randint(0, 600), 10, 15, 15])
    elif choice < 0.55:
        ann = rng.choice(anns)
        doc.set_bbox(ann["id"], [rng.randint(0, 600), rng.randint(0, 400), 12.5, 8])
    elif choice < 0.65:
        ann = rng.choice(anns)
        doc.set_category(ann["id"], 3 - ann["category_id"] if ann["category_id"] in (1, 2) else 1)
    elif choice < 0.8:
        undo.append(("insert", doc.remove_annotation(rng.choice(anns)["id"])))
    elif choice < 0.9:
        image = rng.choice(doc.images)
        doc.set_image_field(image["id"], "workbench_status", rng.choice(("reviewed", "edited", None)))
    elif choice < 0.95:
        cat_id = doc.add_category(f"class{len(doc.categories)}-{rng.randint(0, 10**6)}")
        undo.append(("restore", doc.remove_category(cat_id)) if rng.random() < 0.5 else ("none", 0))
    else:
        image_id = doc.add_image(doc.image_root / f"new{rng.randint(0, 10**9)}.jpg", 64, 48)
        if rng.random() < 0.5:
            undo.append(("restore", doc.remove_image(image_id)))


def steps(doc: CocoDocument, seed: int, count: int, save_every: int = SAVE_EVERY,
          compact_every: int = COMPACT_EVERY, action=nullcontext):
    """Yield (step number, kind) after doing each step on `doc` (kind: edit, compact, save); each
    edit step inside `action()` (JournalKeeper.action: one user action)."""
    rng, undo = random.Random(seed), []
    for i in range(1, count + 1):
        if i % save_every == 0:
            yield i, "save"
        elif i % compact_every == 0:
            yield i, "compact"
        else:
            with action():
                edit(doc, rng, undo)
            yield i, "edit"


def payload_sha(doc: CocoDocument) -> str:
    return hashlib.sha256(doc.json_format.dumps(doc.data).encode("utf-8")).hexdigest()


def expected_states(target: Path, seed: int, count: int, **every) -> tuple[list[str], dict[str, int]]:
    """[JSON of the document after step i] (i = 0: as loaded) and {sha of a saved file: the first
    step that saved it} (an undo can make a later save write an earlier version again). A step of
    several edits (a class or an image added, then at once removed again) is one journal frame:
    the document part-way through it is no state a recovery may give."""
    doc, _ = CocoDocument.load(target)
    states, saved = [json.dumps(doc.data)], {payload_sha(doc): 0}
    for i, kind in steps(doc, seed, count, **every):
        states.append(json.dumps(doc.data))
        if kind == "save":
            saved.setdefault(payload_sha(doc), i)
    return states, saved


def run_child(target: str, progress: str, seed: int, count: int, pause: float, every: dict) -> None:
    """The edited session: killed at a random moment by the test."""
    target = Path(target)
    journal = target.with_name(target.name + ".journal")
    doc, _ = CocoDocument.load(target)
    keeper = JournalKeeper()
    keeper.attach(doc, journal, target)
    fd = os.open(progress, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    for i, kind in steps(doc, seed, count, action=keeper.action, **every):
        if kind == "save":
            keeper.before_save()
            doc.save(target)
            keeper.saved(target, journal)
        elif kind == "compact":
            keeper.compact(target)  # the writer does it in queue order; nobody waits
        os.write(fd, f"{i} {time.monotonic():.6f}\n".encode())  # shown as done
        if pause:
            time.sleep(pause)
    keeper.detach()
    os.write(fd, b"done\n")


def _reported(progress: str) -> int:
    try:
        with open(progress, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def serve() -> None:
    """A fork server (imports paid once): each stdin line `<delay> <json args of run_child>`
    forks a child running the script, SIGKILLs it `delay` seconds after the fork (if still running) and answers
    `<monotonic time of the fork> <of the kill> <exit status>` on stdout. With `after_step` k in
    the arguments, the delay counts from the moment the child reports step k. The server runs no threads of its own,
    so forking it is safe."""
    import signal
    import sys
    for line in sys.stdin:
        delay, args = line.split(" ", 1)
        args = json.loads(args)
        after = args.pop("after_step", 0)
        forked_at = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the child: edit until killed
            try:
                run_child(**args)
            finally:
                os._exit(0)
        status = None
        while after and status is None and _reported(args["progress"]) < after:
            time.sleep(0.0005)
            finished, code = os.waitpid(pid, os.WNOHANG)
            status = code if finished else None
        deadline = (time.monotonic() if after else forked_at) + float(delay)
        while status is None and time.monotonic() < deadline:  # unless it ends by itself first
            time.sleep(min(0.0005, max(0.0, deadline - time.monotonic())))
            finished, code = os.waitpid(pid, os.WNOHANG)
            status = code if finished else None
        killed_at = time.monotonic()
        if status is None:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        print(f"{forked_at:.6f} {killed_at:.6f} {status}", flush=True)


if __name__ == "__main__":
    serve()
