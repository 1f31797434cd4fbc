"""Run a notebook headless (nbclient) in a folder and report its outputs and the YAML it compiled."""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from kfp_notebook.backends.defaults import DEFAULT_RUNS_FOLDER


@dataclass(frozen=True)
class NotebookRun:
    """An executed notebook: where it ran, the notebook with outputs, and the YAML files it wrote."""

    folder: Path
    notebook: nbformat.NotebookNode
    yaml_files: tuple[Path, ...]

    def errors(self) -> list[str]:
        return [
            f"{output.get('ename')}: {output.get('evalue')}"
            for cell in self.notebook.cells
            for output in cell.get("outputs", [])
            if output.get("output_type") == "error"
        ]


def run_notebook(path: Path, folder: Path, timeout: int = 300) -> NotebookRun:
    """Execute `path` with its working directory in `folder`; save the executed copy there."""
    from nbclient import NotebookClient

    folder.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.read(path, as_version=4)
    before = set(folder.rglob("*.yaml"))
    resources = {"metadata": {"path": str(folder)}}
    # Widget state is not stored (as JupyterLab does by default): exported HTML then shows each
    # panel's image/svg+xml instead of a widget view that would need a CDN.
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources=resources, store_widget_state=False
    )
    client.execute()
    nbformat.write(notebook, folder / path.name)
    written = tuple(sorted(p for p in folder.rglob("*.yaml") if p not in before and DEFAULT_RUNS_FOLDER not in p.parts))
    return NotebookRun(folder, notebook, written)


def text_outputs(notebook: nbformat.NotebookNode) -> list[str]:
    """Every cell's plain-text output, in order."""
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                texts.append(output["text"].rstrip())
            elif "data" in output and "text/plain" in output["data"]:
                texts.append(output["data"]["text/plain"].rstrip())
    return texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a notebook headless and show what it compiled.")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--out", type=Path, default=Path("out"), help="working folder for the run (default: out/)")
    args = parser.parse_args(argv)
    folder = args.out / args.notebook.stem
    shutil.rmtree(folder, ignore_errors=True)
    run = run_notebook(args.notebook, folder)
    print("\n".join(text_outputs(run.notebook)))
    print(f"\nexecuted notebook: {folder / args.notebook.name}")
    for path in run.yaml_files:
        print(f"compiled pipeline YAML: {path}")
    return 1 if run.errors() else 0


if __name__ == "__main__":
    sys.exit(main())
