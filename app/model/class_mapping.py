"""Which dataset class a model class becomes when its predictions are accepted (no Qt).

By name, case-insensitively; a choice the user made in the mapping dialog wins and is remembered
per model (as JSON, keyed by the checkpoint). A dataset with no classes yet simply takes the
model's class names. Anything else is "unresolved" and the dialog asks.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

EXISTING, NEW, IGNORE = "existing", "new", "ignore"


@dataclass(frozen=True)
class ClassChoice:
    kind: str  # EXISTING (a dataset class, by name), NEW (create a class called `name`) or IGNORE
    name: str = ""

    def to_text(self) -> str:
        return f"{self.kind}:{self.name}"

    @classmethod
    def from_text(cls, text: str) -> "ClassChoice | None":
        kind, _, name = str(text).partition(":")
        if kind not in (EXISTING, NEW, IGNORE) or (kind != IGNORE and not name.strip()):
            return None
        return cls(kind, name)


def settings_key(model_source: str) -> str:
    """Where the choices for a checkpoint are remembered (one key per checkpoint path or name)."""
    digest = hashlib.sha1(model_source.encode("utf-8")).hexdigest()[:16]
    return f"model/class_map/{digest}"


def choices_from_json(text) -> dict[str, ClassChoice]:
    try:
        raw = json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    choices = {str(name): ClassChoice.from_text(value) for name, value in raw.items()}
    return {name: choice for name, choice in choices.items() if choice is not None}


def choices_to_json(choices: dict[str, ClassChoice]) -> str:
    return json.dumps({name: choice.to_text() for name, choice in sorted(choices.items())})


def find_category(categories: list[dict], name: str) -> dict | None:
    """The dataset class called `name`, ignoring case (an exact match first)."""
    exact = next((c for c in categories if c["name"] == name), None)
    if exact is not None:
        return exact
    folded = name.casefold()
    return next((c for c in categories if str(c["name"]).casefold() == folded), None)


def resolve(names, categories: list[dict], remembered: dict[str, ClassChoice]
            ) -> tuple[dict[str, ClassChoice], list[str]]:
    """(choice for each model class name that can be decided, names that need asking)."""
    decided: dict[str, ClassChoice] = {}
    unresolved: list[str] = []
    for name in sorted(set(names)):
        choice = remembered.get(name)
        if choice is not None and (choice.kind != EXISTING or find_category(categories, choice.name)):
            decided[name] = choice
            continue
        match = find_category(categories, name)
        if match is not None:
            decided[name] = ClassChoice(EXISTING, match["name"])
        elif not categories:
            decided[name] = ClassChoice(NEW, name)
        else:
            unresolved.append(name)
    return decided, unresolved


def default_choice(name: str, categories: list[dict]) -> ClassChoice:
    """What the dialog proposes for an unresolved name: a class of that name."""
    match = find_category(categories, name)
    return ClassChoice(EXISTING, match["name"]) if match else ClassChoice(NEW, name)
