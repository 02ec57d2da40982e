"""Package layout that pyproject.toml alone cannot say: top-level templates/ ship as eventgen.templates.

Namespace discovery: a folder under eventgen/ that lacks `__init__.py` (eventgen/emit once did)
is still a package and still ships; `find_packages` silently dropped it.
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        *find_namespace_packages(include=["eventgen", "eventgen.*"], exclude=["*.__pycache__"]),
        "eventgen.templates",
    ],
    package_dir={"eventgen.templates": "templates"},
    package_data={
        "eventgen": ["py.typed"],
        "eventgen.templates": ["*.jinja", "*/*.jinja", "*/*/*.jinja"],
    },
)
