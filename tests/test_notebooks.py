"""Execute every notebook in ``notebooks/`` top to bottom; a cell that raises fails the test.

The kernel is always run by the interpreter running pytest (``sys.executable``), whatever
``PATH`` or a user-level ``python3`` kernelspec says, so the notebooks test this checkout in
this environment even when the virtualenv is not activated.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import RESOURCES, get_kernel_dict
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 600


class ThisInterpreterKernelManager(AsyncKernelManager):
    """The ipykernel ``python3`` kernel, launched with ``sys.executable``.

    ``get_kernel_dict()`` is ipykernel's own spec for the running interpreter: the same
    spec jupyter_client uses for ``python3`` when no kernelspec directory overrides it.
    """

    @property
    def kernel_spec(self) -> KernelSpec:
        if self._kernel_spec is None:
            spec = get_kernel_dict()
            assert spec["argv"][0] == sys.executable
            self._kernel_spec = KernelSpec(name="python3", resource_dir=RESOURCES, **spec)
        return self._kernel_spec


def execute(notebook: nbformat.NotebookNode, cwd: Path) -> nbformat.NotebookNode:
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        kernel_manager_class=ThisInterpreterKernelManager,
        resources={"metadata": {"path": str(cwd)}},
    )
    return client.execute()


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel inherits this environment: no model downloads from the Hugging Face hub."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOKS_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    try:
        execute(notebook, cwd=NOTEBOOKS_DIR)
    except CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell raised\n{exc}", pytrace=False)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_clean(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}: cell {index} has outputs; clear them before committing"
            )


def test_kernel_runs_this_interpreter_offline(tmp_path: Path) -> None:
    probe = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import os, sys\nprint(sys.executable)\nprint(os.environ['HF_HUB_OFFLINE'])\n"
                "print(os.getcwd())"
            )
        ]
    )
    executed = execute(probe, cwd=tmp_path)
    lines = executed.cells[0].outputs[0]["text"].splitlines()
    assert Path(lines[0]).resolve() == Path(sys.executable).resolve()
    assert lines[1] == "1"
    assert Path(lines[2]).resolve() == tmp_path.resolve()
