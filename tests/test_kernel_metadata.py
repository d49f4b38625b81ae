"""The lessons' kernel metadata is what JupyterLab writes, so opening one changes nothing."""

import build_notebooks  # scripts/ is on pytest's pythonpath (pyproject.toml)
from jupyter_client.kernelspec import KernelSpecManager


def test_built_kernelspec_matches_the_installed_python3_kernel():
    installed = KernelSpecManager().get_kernel_spec("python3")
    kernelspec = build_notebooks.parse("# %%\nx = 1\n").metadata["kernelspec"]
    assert kernelspec == {"name": "python3", "display_name": installed.display_name,
                          "language": installed.language}
