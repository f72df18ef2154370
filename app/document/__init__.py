"""The document layer of the workbench: what is open and how it changes.

Without Qt (import-linter and tests/app/document check it): the image list and each image's
status (entries), the list filter (image_filter), undoable edit commands (commands), the editor
that builds them (editing) and what "open this path" means (opening). With Qt, the workers around
them: the document session (open, save, autosave: session), the File menu's flows (file_flows)
and the image decoder thread (image_loader). Tests build the Qt-free part without a window; the
window's side (app/state.py, app/commands.py) wraps it in signals and a QUndoStack."""
