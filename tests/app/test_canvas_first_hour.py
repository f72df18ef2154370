"""What the canvas tells a new user (issue 17, items 7 and 10): a prediction's tag is clear of the
label of an annotation on the same object and inside the image, and drawing on a reviewed image
says that it is no longer reviewed."""
from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QApplication, QGraphicsItem

from model_helpers import checkpoint, make_shapes, model_window, wait_attention  # noqa: F401
from workbench_helpers import draw_box, make_images, open_and_wait, pick_class, wait_image


def on_screen(window, item: QGraphicsItem) -> QRectF:
    """Where `item` (a constant-size tag) is drawn, in viewport pixels."""
    transform = item.deviceTransform(window.canvas.viewportTransform())
    return transform.mapRect(item.boundingRect())


def test_prediction_tags_clear_the_labels_and_the_top_edge(qtbot, model_window, tmp_path):
    window = model_window
    open_and_wait(qtbot, window, make_shapes(tmp_path / "shapes", 1)[0].parent)
    wait_attention(qtbot, window)
    qtbot.waitUntil(lambda: len(window.model_ui.predictions.items()) > 0, timeout=10_000)
    image_top = window.canvas.mapFromScene(0, 0).y()
    for item in window.model_ui.predictions.items().values():
        for tag in item.childItems():
            assert on_screen(window, tag).top() >= image_top - 0.5, "a tag is cut by the top edge"
    prediction = max(window.model_ui.predictions.items().values(), key=lambda p: p.rect().width() * p.rect().height())
    box = prediction.rect()
    draw_box(qtbot, window, box.left(), box.top(), box.right(), box.bottom())  # the same object, labelled
    pick_class(qtbot, window, "circle")
    QApplication.processEvents()
    (label_item,) = [c for b in window.canvas.box_items().values() for c in b.childItems()
                     if c.flags() & QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations]
    prediction = max(window.model_ui.predictions.items().values(), key=lambda p: p.rect().width() * p.rect().height())
    label = on_screen(window, label_item)
    for tag in prediction.childItems():
        assert not on_screen(window, tag).intersects(label), "the prediction's tag is under the label"


def test_drawing_on_a_reviewed_image_says_it_is_no_longer_reviewed(qtbot, window, tmp_path):
    make_images(tmp_path / "photos", 2, size=(200, 150))
    open_and_wait(qtbot, window, tmp_path / "photos")
    wait_image(qtbot, window)
    window.actions["mark_reviewed"].trigger()
    assert window.state.status(0) == "reviewed"
    messages: list[str] = []
    window.state.message.connect(messages.append)
    draw_box(qtbot, window, 20, 20, 120, 100)
    pick_class(qtbot, window, "thing")
    assert window.state.status(0) == "edited"
    assert any("no longer reviewed" in m for m in messages), messages
    assert "no longer reviewed" in window.status_bar.currentMessage()
    window.state.undo_stack.undo()
    assert window.state.status(0) == "reviewed"
