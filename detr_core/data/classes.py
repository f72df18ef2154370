"""Dataset category ids <-> contiguous model classes.

COCO category ids may start at 0 or 1 and have gaps (the official 91-id COCO list skips 11 of
them). The model wants classes 0..K-1 (its head adds the "no object" logit K). `ClassMap` keeps the
dataset id of every model class, in class order; it is saved into checkpoints as
metadata["category_ids"] so detections map back to the dataset's ids.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..errors import DatasetError


@dataclass(frozen=True)
class ClassMap:
    category_ids: tuple[int, ...]  # dataset category id of model class i
    names: tuple[str, ...]  # its name

    def __post_init__(self) -> None:
        assert len(self.category_ids) == len(self.names), "one name per category id"
        assert len(set(self.category_ids)) == len(self.category_ids), "duplicate category ids"

    def __len__(self) -> int:
        return len(self.category_ids)

    @classmethod
    def from_categories(cls, categories: Iterable[dict]) -> "ClassMap":
        """Model classes in increasing category id order (the order COCO tools list them in)."""
        ordered = sorted(categories, key=lambda c: c["id"])
        return cls(tuple(int(c["id"]) for c in ordered), tuple(str(c["name"]) for c in ordered))

    def class_of(self, category_id: int) -> int:
        """Model class of a dataset category id (KeyError if the model has no such class)."""
        return self._index[category_id]

    @property
    def _index(self) -> dict[int, int]:
        index = self.__dict__.get("_index_cache")
        if index is None:
            index = {c: i for i, c in enumerate(self.category_ids)}
            object.__setattr__(self, "_index_cache", index)
        return index

    def to_category(self) -> dict[int, int]:
        """{model class: dataset category id}, as `Detections.to_coco` takes it."""
        return dict(enumerate(self.category_ids))

    def check_compatible(self, categories: Iterable[dict], used_ids: set[int], where: str) -> list[str]:
        """Check another file's categories (a validation set) against this map: every category id
        that annotations use must exist here. Returns warnings (same id, different name); raises
        DatasetError naming `where` for used ids the model does not have."""
        warnings, unknown = [], []
        for c in categories:
            if c["id"] not in self._index:
                if c["id"] in used_ids:
                    unknown.append(f"{c['id']} ({c['name']})")
            elif self.names[self._index[c["id"]]] != c["name"]:
                warnings.append(f"category {c['id']} is '{c['name']}' in {where} but "
                                f"'{self.names[self._index[c['id']]]}' in the training set")
        if unknown:
            raise DatasetError(f"{where}: {len(unknown)} categories are not in the training set: "
                               f"{', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}")
        return warnings
