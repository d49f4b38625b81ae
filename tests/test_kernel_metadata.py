"""The lessons' kernel metadata is what JupyterLab writes, so opening one changes nothing."""

import importlib.util
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("build_notebooks",
                                              ROOT / "scripts" / "build_notebooks.py")
build_notebooks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build_notebooks)


def test_built_kernelspec_matches_the_installed_python3_kernel():
    installed = KernelSpecManager().get_kernel_spec("python3")
    kernelspec = build_notebooks.parse("# %%\nx = 1\n").metadata["kernelspec"]
    assert kernelspec == {"name": "python3", "display_name": installed.display_name,
                          "language": installed.language}
