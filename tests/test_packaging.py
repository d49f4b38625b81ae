"""The project's promises about itself: one dependency list mirrored, two README commands,
a true Python floor, every import declared."""

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower()


CONDA_NAMES = {"torch": "pytorch"}


def test_environment_yml_lists_every_runtime_dependency():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    env = (ROOT / "environment.yml").read_text().lower()
    listed = set(re.findall(r"^\s*-\s*([a-z0-9_.-]+)", env, flags=re.M))
    for requirement in pyproject["project"]["dependencies"]:
        name = _name(requirement)
        assert CONDA_NAMES.get(name, name) in listed, f"{name} missing from environment.yml"
    assert re.search(r"-\s*-e\s+\.", env), "environment.yml must pip-install the package"


def test_dependencies_are_ranges_not_pins():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requirements = pyproject["project"]["dependencies"] + \
        pyproject["project"]["optional-dependencies"]["dev"]
    for requirement in requirements:
        assert "==" not in requirement and ">=" in requirement and "<" in requirement, requirement


def test_readme_quick_start_has_exactly_two_commands_and_ci_uses_the_second():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```(?:bash|sh)?\n(.*?)```", quick, flags=re.S)
    lines = [line for block in commands for line in block.strip().splitlines()]
    assert len(lines) == 2, lines
    ci = (ROOT / ".ci" / "run").read_text()
    assert lines[1].strip() in ci


def test_every_lesson_is_listed_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert notebook.name in readme, notebook.name


def _floor(requires_python: str) -> tuple[int, int]:
    match = re.search(r">=\s*(\d+)\.(\d+)", requires_python)
    assert match, f"requires-python has no floor: {requires_python!r}"
    return int(match[1]), int(match[2])


def _python_sources() -> list[Path]:
    return [p for folder in ("cnnedu", "tests", "scripts", "benchmarks")
            for p in sorted((ROOT / folder).rglob("*.py"))]


def test_requires_python_floor_is_true():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    floor = _floor(pyproject["project"]["requires-python"])
    # ruff lints (and upgrades syntax) for the floor, and the code imports tomllib (3.11+)
    assert pyproject["tool"]["ruff"]["target-version"] == f"py{floor[0]}{floor[1]}"
    assert floor >= (3, 11)
    env = re.search(r"^\s*-\s*python\s*=\s*(\d+)\.(\d+)", (ROOT / "environment.yml").read_text(),
                    flags=re.M)
    assert env and (int(env[1]), int(env[2])) >= floor
    assert sys.version_info[:2] >= floor
    for path in _python_sources():           # no syntax newer than the floor
        ast.parse(path.read_text(), str(path), feature_version=floor)


# import name -> distribution, where they differ
DISTRIBUTIONS = {"PIL": "pillow", "IPython": "ipython", "bs4": "beautifulsoup4",
                 "xdist": "pytest-xdist"}


def test_every_third_party_import_is_declared():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = {_name(r) for r in pyproject["project"]["dependencies"]
                + pyproject["project"]["optional-dependencies"]["dev"]}
    sources = _python_sources()
    local = {p.stem for p in sources} | {"cnnedu"}
    undeclared = {}
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in (n.split(".")[0] for n in names):
                if name in sys.stdlib_module_names or name in local:
                    continue
                if DISTRIBUTIONS.get(name, name).lower() not in declared:
                    undeclared.setdefault(name, path.relative_to(ROOT).as_posix())
    assert not undeclared, f"imported but not in pyproject.toml: {undeclared}"
