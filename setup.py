"""Package discovery for the three source roots.

`pyproject.toml` holds the metadata. This file only computes the package list, because the
wheel maps two top-level folders into the import package (`jobs/` -> `emr_patterns.jobs`,
`lambdas/` -> `emr_patterns.lambdas`), which a static `packages.find` cannot express.
`constructs/` is a source root and must never get an `__init__.py`: it would shadow the
`constructs` distribution that aws-cdk-lib imports.
"""

from setuptools import find_packages, setup

MAPPED_ROOTS = {"emr_patterns.jobs": "jobs", "emr_patterns.lambdas": "lambdas"}

packages = find_packages("constructs", include=["emr_patterns", "emr_patterns.*"])
for package, folder in MAPPED_ROOTS.items():
    packages.append(package)
    packages.extend(f"{package}.{sub}" for sub in find_packages(folder))

setup(
    packages=packages,
    package_dir={"": "constructs", **MAPPED_ROOTS},
)
