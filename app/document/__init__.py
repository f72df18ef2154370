"""The document layer of the workbench: what is open and how it changes, without Qt."""
