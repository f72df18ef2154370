"""Fuzzing the checkpoint loader: corrupted, wrong-layout and code-carrying files either load or are
refused with one line naming the file (a CheckpointError), never another exception, never a hang,
and never run code.

Seeds (a 3-class tiny model with layer4 left out, fp16, ~6 MB): the project format with a resume
state, the official `{"model": state_dict}` in torch's zip format, an official training checkpoint
(with `args` as an argparse.Namespace) in the legacy non-zip format, and a bare safetensors file.
  - corrupted: cut short, bits flipped (anywhere, in the first or last 4 KB, or inside the zip's
    data.pkl), a run of bytes zeroed;
  - wrong layout: values anywhere in the stored object replaced by other types (huge, negative, NaN,
    strings, None, containers, tensors of other shapes and dtypes), keys deleted or renamed;
  - code: a pickled object whose `__reduce__` would create a marker file (os.system, exec, eval,
    open, subprocess.call, shutil.copyfile) placed anywhere in the object, saved by torch.save (zip or
    legacy) or plain pickle (protocols 0-5). The marker must never appear.
Each file goes through `load_checkpoint` and, when it holds a resume state, through what `--resume`
reads (`read_checkpoint_state` and `train.setup.from_run`).
"""
from __future__ import annotations

import argparse
import builtins
import io
import math
import os
import pickle
import shutil
import subprocess
import zipfile

import pytest
import torch
from hypothesis import given, strategies as st
from safetensors.torch import save as safetensors_bytes

from detr_core.checkpoints import save_checkpoint
from detr_core.model.config import preset
from detr_core.model.detr import build

from test_fuzz_helpers import check_answer, fuzz_settings, shared_worker

NAMES = ["cat", "dog", "bird"]


def _seeds(tmp) -> dict[str, bytes]:
    torch.manual_seed(0)
    config = preset("tiny", num_classes=3, backbone_stages=3, min_size=128, max_size=160)
    model = build(config).half()
    state_dict = model.state_dict()
    state = {"epoch": 1, "step": 2, "world_size": 1, "train_config": {"epochs": 2},
             "rng": {"torch": torch.get_rng_state()}}
    save_checkpoint(tmp / "project.pth", model, config, NAMES, metadata={"category_ids": [1, 2, 3]}, state=state)
    official, legacy = io.BytesIO(), io.BytesIO()
    torch.save({"model": state_dict}, official)
    args = argparse.Namespace(nheads=4, dilation=False, dropout=0.1, position_embedding="sine", pre_norm=False)
    torch.save({"model": state_dict, "epoch": 3, "args": args}, legacy, _use_new_zipfile_serialization=False)
    return {"project.pth": (tmp / "project.pth").read_bytes(), "official.pth": official.getvalue(),
            "legacy.pth": legacy.getvalue(), "weights.safetensors": safetensors_bytes(dict(state_dict))}


def _pickle_region(raw: bytes) -> tuple[int, int] | None:
    """Byte range of the zip member data.pkl (the object graph), if `raw` is a zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            info = next(i for i in z.infolist() if i.filename.endswith("data.pkl"))
    except (zipfile.BadZipFile, StopIteration):
        return None
    return info.header_offset, info.header_offset + 30 + len(info.filename) + info.compress_size


class Seeds(dict):
    """The seed files or objects by name, with a short repr for hypothesis' reports."""

    def __repr__(self) -> str:
        return f"Seeds({', '.join(self)})"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return Seeds(_seeds(tmp_path_factory.mktemp("seeds")))


@pytest.fixture(scope="module")
def worker():
    w = shared_worker()
    yield w
    print("\n" + w.summary("checkpoint"))


# --- corrupted files ---

@st.composite
def corruption(draw, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["truncate", "flip", "flip", "zero"]))
        if how == "truncate":
            cut = draw(st.integers(0, len(data) - 1) | st.integers(max(0, len(data) - 4096), len(data) - 1))
            del data[cut:]
            if not data:
                break
            continue
        where = draw(st.sampled_from(["anywhere", "head", "tail", "pickle"]))
        region = {"anywhere": (0, len(data)), "head": (0, min(len(data), 4096)),
                  "tail": (max(0, len(data) - 4096), len(data))}.get(where) or _pickle_region(bytes(data)) \
            or (0, len(data))
        lo, hi = region[0], max(region[0] + 1, min(region[1], len(data)))
        if how == "flip":
            for _ in range(draw(st.integers(1, 8))):
                at = draw(st.integers(lo, hi - 1))
                data[at] ^= 1 << draw(st.integers(0, 7))
        else:
            at = draw(st.integers(lo, hi - 1))
            length = draw(st.integers(1, 64))
            data[at:at + length] = bytes(len(data[at:at + length]))
    return bytes(data)


@fuzz_settings(40)
@given(data=st.data())
@pytest.mark.slow
def test_corrupted_checkpoints_load_or_are_refused_in_one_line(seeds, worker, tmp_path_factory, data):
    name = data.draw(st.sampled_from(sorted(seeds)), label="seed")
    raw = data.draw(corruption(seeds[name]), label="corruption")
    path = tmp_path_factory.getbasetemp() / "fuzz-corrupt" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(raw)
    check_answer(worker.load("checkpoint", path), path)


# --- wrong layouts ---

odd_values = st.sampled_from([None, True, 0, -1, 3, 2**31, 10**30, 1.5, math.nan, math.inf, "", "64", "resnet18",
                              "N/A", b"\x00", [], {}, [1, 2], {"a": 1}, torch.float16])
small_tensors = st.builds(
    lambda shape, dtype: torch.zeros(shape, dtype=dtype),
    st.lists(st.integers(0, 5), max_size=4).map(tuple),
    st.sampled_from([torch.float32, torch.float16, torch.int64, torch.bool, torch.uint8]))
replacement = odd_values | small_tensors | st.integers(-10**6, 10**6) | st.text(max_size=12)


def _paths(node, prefix=(), depth=0):
    yield prefix
    if depth < 3 and isinstance(node, dict):
        for key in list(node)[:400]:
            yield from _paths(node[key], prefix + (key,), depth + 1)
    elif depth < 3 and isinstance(node, list):
        for i in range(min(len(node), 8)):
            yield from _paths(node[i], prefix + (i,), depth + 1)


def _copy_path(obj, path):
    """A copy of `obj` in which every container on `path` is new (the tensors are shared)."""
    top = dict(obj) if isinstance(obj, dict) else list(obj)
    node = top
    for key in path[:-1]:
        child = node[key]
        child = dict(child) if isinstance(child, dict) else list(child)
        node[key] = child
        node = child
    return top, node


class Case:
    """A stored object with a short repr (what was changed), for hypothesis' reports."""

    def __init__(self, obj, steps: list[str]):
        self.obj, self.steps = obj, steps

    def __repr__(self) -> str:
        return "; ".join(self.steps)


def _short(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor{list(value.shape)} {value.dtype}"
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


@st.composite
def wrong_layout(draw, seeds_objects) -> Case:
    seed = draw(st.sampled_from(sorted(seeds_objects)))
    obj, steps = seeds_objects[seed], [seed]
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(obj) if p]
        if not paths:  # everything deleted
            break
        path = draw(st.sampled_from(paths))
        obj, parent = _copy_path(obj, path)
        key = path[-1]
        op = draw(st.sampled_from(["replace", "replace", "delete", "rename"]))
        if op == "replace":
            parent[key] = draw(replacement)
            steps.append(f"{list(path)} = {_short(parent[key])}")
        elif op == "delete":
            del parent[key]
            steps.append(f"del {list(path)}")
        elif isinstance(parent, dict):
            new_key = draw(st.sampled_from(["model", "format", "class_embed.weight", "backbone.1.x",
                                            "transformer.encoder.norm.weight", "detr.class_embed.weight",
                                            "model.backbone.x", 7, "\u00e9"]))
            parent[new_key] = parent.pop(key)
            steps.append(f"rename {list(path)} -> {new_key!r}")
    return Case(obj, steps)


@pytest.fixture(scope="module")
def seed_objects(seeds, tmp_path_factory):
    folder = tmp_path_factory.mktemp("objects")
    out = Seeds()
    for name in ("project.pth", "official.pth"):
        (folder / name).write_bytes(seeds[name])
        out[name] = torch.load(folder / name, weights_only=True)
    return out


@fuzz_settings(40)
@given(data=st.data())
@pytest.mark.slow
def test_wrong_layouts_load_or_are_refused_in_one_line(seed_objects, worker, tmp_path_factory, data):
    case = data.draw(wrong_layout(seed_objects), label="object")
    path = tmp_path_factory.getbasetemp() / "fuzz-layout" / "wrong.pth"
    path.parent.mkdir(exist_ok=True)
    torch.save(case.obj, path, _use_new_zipfile_serialization=data.draw(st.booleans(), label="zip"))
    check_answer(worker.load("checkpoint", path), path)


# --- pickles that carry code ---

class Payload:
    """Unpickling this calls `function(*args)`, which would create the marker file."""

    def __init__(self, function, args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def payload(kind: str, marker: str, source: str) -> Payload:
    write = f"open({marker!r}, 'w').close()"
    return {"system": Payload(os.system, (f"touch '{marker}'",)),
            "exec": Payload(builtins.exec, (write,)),
            "eval": Payload(builtins.eval, (write,)),
            "open": Payload(builtins.open, (marker, "w")),
            "subprocess": Payload(subprocess.call, (["touch", marker],)),
            "copyfile": Payload(shutil.copyfile, (source, marker))}[kind]


KINDS = ("system", "exec", "eval", "open", "subprocess", "copyfile")


def test_every_payload_really_runs_when_unpickled_plainly(tmp_path):
    """The payloads are real: a plain pickle.loads creates the marker (so the fuzz test can fail)."""
    source = tmp_path / "source"
    source.write_text("x")
    for kind in KINDS:
        marker = tmp_path / f"marker-{kind}"
        result = pickle.loads(pickle.dumps(payload(kind, str(marker), str(source))))
        if hasattr(result, "close"):
            result.close()
        assert marker.exists(), kind


@fuzz_settings(40)
@given(data=st.data())
def test_pickles_carrying_code_are_refused_and_never_run(seed_objects, worker, tmp_path_factory, data):
    folder = tmp_path_factory.getbasetemp() / "fuzz-code"
    folder.mkdir(exist_ok=True)
    marker, source = folder / "MARKER", folder / "source.txt"
    source.write_text("x")
    evil = payload(data.draw(st.sampled_from(KINDS), label="payload"), str(marker), str(source))
    base = seed_objects[data.draw(st.sampled_from(sorted(seed_objects)), label="seed")]
    where = data.draw(st.sampled_from(["top", "model", "tensor", "key", "config", "state", "alone", "list"]),
                      label="where")
    obj = dict(base)
    if where == "top":
        obj["extra"] = evil
    elif where == "alone":
        obj = evil
    elif where == "list":
        obj = [1, {"x": [evil]}]
    elif where == "key":
        obj[evil] = 1
    elif where in ("model", "tensor"):
        obj["model"] = dict(obj["model"])
        key = "class_embed.weight" if where == "tensor" else "extra.weight"
        obj["model"][key] = evil
    elif where == "config":
        obj["model_config"] = {**obj.get("model_config", {}), "hidden_dim": evil}
    else:
        obj["state"] = {"optimizer": {"state": {0: evil}}}
    how = data.draw(st.sampled_from(["zip", "legacy", "pickle"]), label="how")
    path = folder / "evil.pth"
    if how == "pickle":
        path.write_bytes(pickle.dumps(obj, protocol=data.draw(st.integers(0, 5), label="protocol")))
    else:
        torch.save(obj, path, _use_new_zipfile_serialization=how == "zip")
    answer = worker.load("checkpoint", path)
    assert not marker.exists(), f"code in {how} pickle ran ({answer})"
    check_answer(answer, path)
    assert answer["outcome"] == "refused", answer


# Regressions: examples the fuzzer found, kept as plain tests (fixed in model/config.py from_dict and
# checkpoints/project.py, layout.py).

@pytest.mark.parametrize("field,value,expected", [
    ("dim_feedforward", True, "dim_feedforward must be int, got bool"),  # was TypeError in nn.Linear
    ("nheads", 0, "nheads must be at least 1"),  # was ZeroDivisionError
    ("enc_layers", 10**6, "enc_layers is 1000000 in the config, 2 in the weights"),  # built for minutes
    ("hidden_dim", 10**30, "hidden_dim is 1000000000000000000000000000000 in the config, 64 in"),  # TypeError
])
def test_a_stored_model_config_that_does_not_fit_is_refused_in_one_line(seed_objects, tmp_path, field, value,
                                                                        expected):
    from detr_core.checkpoints import load_checkpoint, read_checkpoint_state
    from detr_core.errors import CheckpointError

    obj = dict(seed_objects["project.pth"])
    obj["model_config"] = {**obj["model_config"], field: value}
    path = tmp_path / "bad config.pth"
    torch.save(obj, path)
    for load in (load_checkpoint, read_checkpoint_state):
        with pytest.raises(CheckpointError, match=expected) as info:
            load(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_broken_pickle_is_refused_without_torch_advice_to_load_it_unsafely(tmp_path):
    """torch's message says re-running with weights_only=False "will likely succeed": never shown."""
    from detr_core.checkpoints import load_checkpoint
    from detr_core.errors import CheckpointError

    path = tmp_path / "broken.pth"
    path.write_bytes(b"\x80\x02" + bytes(100))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(info.value) == f"not a readable PyTorch checkpoint: {path} (Unsupported operand 0)"
