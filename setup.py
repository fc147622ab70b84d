"""Packages of the `tokenproof` distribution (the product).

The top-level folders are mapped into the `tokenproof` import package (see `package-dir` in
pyproject.toml); this lists every subpackage below them so new subfolders need no edit here. The dev
kit (`devkit/`) is a distribution of its own and is not listed.
"""

from setuptools import find_packages, setup

MAPPED = ("instrumentation", "collector", "analytics", "dashboards")

packages = ["tokenproof"] + [f"tokenproof.{p}" for p in find_packages("tokenproof")]
for folder in MAPPED:
    packages.append(f"tokenproof.{folder}")
    packages += [f"tokenproof.{folder}.{p}" for p in find_packages(folder)]

setup(packages=packages)
