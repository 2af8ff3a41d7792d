"""The build step pyproject.toml cannot declare: conf/, expectations/ and queries/ live at the top of the
checkout (where Hydra, the query catalog and the suites read them in development) and are copied into
the package as hbbatch/_resources/ when a wheel is built, so `pip install .` works from any folder
(hbbatch.config.resource_dir finds either)."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RESOURCES = ("conf", "expectations", "queries")


class BuildWithResources(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        for name in RESOURCES:
            target = Path(self.build_lib) / "hbbatch" / "_resources" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(root / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithResources})
