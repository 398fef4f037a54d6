"""Execute every notebook in ``notebooks/`` top to bottom; a cell that raises fails the test.

Notebooks are committed executed, so they read as tutorials on a code host. The test runs a
copy of the folder in a temporary directory: the committed files (and the folder) are never
written. To refresh a notebook's stored outputs after changing it::

    .venv/bin/python tests/test_notebooks.py notebooks/01_quickstart.ipynb

The kernel is always run by the interpreter running pytest (``sys.executable``), whatever
``PATH`` or a user-level ``python3`` kernelspec says, so the notebooks test this checkout in
this environment even when the virtualenv is not activated.
"""

from __future__ import annotations

import hashlib
import shutil
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
        record_timing=False,  # no per-cell timestamps in the stored files
    )
    return client.execute()


def execute_copy(path: Path, scratch: Path) -> nbformat.NotebookNode:
    """Execute ``path`` as a copy inside ``scratch`` (with the rest of its folder beside it,
    and as its working directory); returns the executed notebook and writes nothing else."""
    copy = scratch / path.parent.name
    shutil.copytree(path.parent, copy, ignore=shutil.ignore_patterns(".*", "__pycache__"))
    return execute(nbformat.read(copy / path.name, as_version=4), cwd=copy)


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel inherits this environment: no model downloads from the Hugging Face hub."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOKS_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    before = _digest(NOTEBOOKS_DIR)
    try:
        execute_copy(path, tmp_path)
    except CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell raised\n{exc}", pytrace=False)
    assert _digest(NOTEBOOKS_DIR) == before, "running a notebook wrote into notebooks/"


def _stored_executed(path: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    return notebook


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_stored_executed(path: Path) -> None:
    """Every code cell ran, in order, in one session, without an error, and shows its output."""
    code = [c for c in _stored_executed(path).cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), (
        f"{path.name}: store it executed top to bottom (see this module's docstring)"
    )
    for index, cell in enumerate(code):
        kinds = [output.output_type for output in cell.outputs]
        assert "error" not in kinds, f"{path.name}: code cell {index} is stored with an error"
    assert sum(bool(c.outputs) for c in code) >= len(code) // 2, f"{path.name}: few outputs"


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


def _store_executed(paths: list[str]) -> None:
    """Execute each notebook (as a copy) and write its outputs back into the file."""
    import os
    import tempfile

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    for name in paths:
        path = Path(name).resolve()
        with tempfile.TemporaryDirectory(prefix="selfmem-notebook-") as scratch:
            executed = execute_copy(path, Path(scratch))
        nbformat.write(executed, path)
        print(f"stored {path.name} executed")


if __name__ == "__main__":
    _store_executed(sys.argv[1:])
