"""Package layout that pyproject.toml alone cannot say: top-level templates/ ship as eventgen.templates."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["eventgen", "eventgen.*"]), "eventgen.templates"],
    package_dir={"eventgen.templates": "templates"},
    package_data={
        "eventgen": ["py.typed"],
        "eventgen.templates": ["*.jinja", "*/*.jinja", "*/*/*.jinja"],
    },
)
