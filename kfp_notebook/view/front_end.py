"""The panel's front end: the one built ES module and stylesheet in the package, and what its build generates.

The sources are TypeScript in frontend/ (a checkout only); `npm run build` there writes static/panel.js and
static/panel.css, which are committed (a clone without Node works, and the wheel carries them). The bundle's
first line names the SHA-256 of its sources, so a test tells when a source changed and the bundle was not built.

`python -m kfp_notebook.view.front_end generate FOLDER` writes the generated sources (run by `npm run build`).
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent / "static"
ESM = STATIC / "panel.js"
CSS = STATIC / "panel.css"
#: The sources of a checkout (absent from an installed wheel).
SOURCES = Path(__file__).resolve().parents[2] / "frontend"
SOURCE_FOLDERS = ("src", "style")
DIGEST = re.compile(r"sources sha256:([0-9a-f]{64})")
HEADER = "// Generated from kfp_notebook/{source} at build time: do not edit.\n"

#: TypeScript for the synced traits' Python types; a trait tagged `ts=` names its own (an interface in messages.ts).
TS_TYPES = {"Unicode": "string", "Bool": "boolean", "Int": "number", "Float": "number", "List": "unknown[]"}


def traits_typescript() -> str:
    """`interface PanelTraits`: every synced trait the panel declares, typed as the front end reads it."""
    from kfp_notebook.view.panel import PipelinePanel

    lines, named = [], set()
    for name, trait in sorted(PipelinePanel.class_own_traits(sync=True).items()):
        if name.startswith("_"):
            continue
        ts = trait.metadata.get("ts") or TS_TYPES.get(type(trait).__name__, "Record<string, unknown>")
        named.update(re.findall(r"\b[A-Z]\w+\b", ts) if trait.metadata.get("ts") else [])
        lines.append(f"  {name}: {ts};")
    named -= {"Record", "Array"}
    imports = f"import type {{ {', '.join(sorted(named))} }} from './messages';\n\n" if named else ""
    return (
        HEADER.format(source="view/panel.py (PipelinePanel's synced traits)")
        + imports
        + "export interface PanelTraits {\n"
        + "\n".join(lines)
        + "\n}\n"
    )


def generated() -> dict[str, str]:
    """The sources the build generates from Python (each fact once): states, their colours, the traits."""
    from kfp_notebook.tracking import states

    return {
        "src/states.ts": states.front_end_typescript(),
        "style/states.css": states.front_end_css(),
        "src/traits.ts": traits_typescript(),
    }


def write_generated(folder: Path) -> None:
    for built in (ESM, CSS):  # the panel's class names them: a first build imports it before they exist
        if not built.exists():
            built.parent.mkdir(parents=True, exist_ok=True)
            built.write_text("", encoding="utf-8")
    for name, text in generated().items():
        (folder / name).write_text(text, encoding="utf-8")


def sources_digest(folder: Path = SOURCES) -> str:
    """SHA-256 over the front end's sources by path (the generated ones as Python writes them now) and the
    npm lock file; frontend/build.mjs computes the same over the files on disk."""
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for d in SOURCE_FOLDERS for p in (folder / d).iterdir()}
    files.update({name: text.encode("utf-8") for name, text in generated().items()})
    files["package-lock.json"] = (folder / "package-lock.json").read_bytes()
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode("utf-8") + b"\0" + files[name] + b"\0")
    return digest.hexdigest()


def bundle_digest(path: Path = ESM) -> str | None:
    """The digest of the sources the committed bundle was built from (its first line), or None."""
    match = DIGEST.search(path.read_text(encoding="utf-8").split("\n", 1)[0]) if path.exists() else None
    return match.group(1) if match else None


def main(argv: list[str]) -> Any:
    if len(argv) == 3 and argv[1] == "generate":
        return write_generated(Path(argv[2]))
    sys.exit("usage: python -m kfp_notebook.view.front_end generate FRONTEND_FOLDER")


if __name__ == "__main__":
    main(sys.argv)
