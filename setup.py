"""Only what pyproject.toml cannot say: the repository's resources/ folder (icons, the demo model,
the sample images) ships inside the wheel as the package data of `detr_workbench_resources`, which
app/resources.py finds when the workbench runs from an installed wheel. Everything else is in
pyproject.toml."""
from setuptools import find_packages, setup

RESOURCES = "detr_workbench_resources"

setup(
    packages=find_packages(include=["app", "app.*", "detr_core", "detr_core.*"]) + [RESOURCES],
    package_dir={RESOURCES: "resources"},
    package_data={RESOURCES: ["icons/*.svg", "models/*.pth", "samples/*.json", "samples/images/*"]},
)
