"""The document layer of the workbench, without Qt: the image list and each image's status
(entries), the list filter (image_filter), undoable edit commands (commands) and the editor that
builds them (editing). Tests build it without a window; the Qt side (app/state.py, app/commands.py)
wraps it in signals and a QUndoStack."""
