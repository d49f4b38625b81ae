"""The project's promises about itself: one dependency list mirrored, two README commands."""

import re
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
