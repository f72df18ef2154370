"""The class-mapping dialog: for each model class without a same-named dataset class, map it to an
existing class, create a class for it, or ignore its predictions. Non-modal (`open()`); the answer
goes back to `state.model.set_class_choices`, which remembers it for this checkpoint."""
from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QScrollArea,
                               QVBoxLayout, QWidget)

from .class_mapping import EXISTING, IGNORE, NEW, ClassChoice, default_choice


class ClassMappingDialog(QDialog):
    def __init__(self, model_names: list[str], categories: list[dict], current: dict[str, ClassChoice],
                 model_label: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Map model classes to dataset classes")
        self.setObjectName("class-mapping-dialog")
        self.combos: dict[str, QComboBox] = {}
        intro = QLabel(f"The model{f' ({model_label})' if model_label else ''} predicts classes that the "
                       "dataset does not have by that name. Choose what each becomes; the choice is "
                       "remembered for this model.")
        intro.setWordWrap(True)
        form_host = QWidget()
        form = QFormLayout(form_host)
        for name in model_names:
            combo = QComboBox()
            combo.addItem(f"Create class “{name}”", ClassChoice(NEW, name))
            for category in categories:
                combo.addItem(f"→ {category['name']}", ClassChoice(EXISTING, category["name"]))
            combo.addItem("Ignore (do not accept)", ClassChoice(IGNORE))
            wanted = current.get(name) or default_choice(name, categories)
            index = next((i for i in range(combo.count()) if combo.itemData(i) == wanted), 0)
            combo.setCurrentIndex(index)
            form.addRow(name, combo)
            self.combos[name] = combo
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(form_host)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        self.resize(460, min(480, 160 + 34 * len(model_names)))

    def choose(self, model_name: str, choice: ClassChoice) -> None:
        """Set one answer (what picking it in the list does)."""
        combo = self.combos[model_name]
        index = next(i for i in range(combo.count()) if combo.itemData(i) == choice)
        combo.setCurrentIndex(index)

    def choices(self) -> dict[str, ClassChoice]:
        return {name: combo.currentData() for name, combo in self.combos.items()}
