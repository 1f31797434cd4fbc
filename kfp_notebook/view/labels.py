"""The DAG's words as the user wrote them: If/Elif/Else conditions, loop items, compact badges, edge labels."""

from __future__ import annotations

import json
import re

#: The name of a task's only output in kfp's IR; edges that carry it say nothing worth drawing.
DEFAULT_OUTPUT = "Output"
MAX_ITEMS_SHOWN = 3
MAX_TEXT = 28


def channel(name: str) -> str:
    """A pipeline channel as the user wrote it: 'train-Output' → 'train', 'make-out' → 'make.out'.

    Loop items read 'item of items'; a pipeline parameter keeps its name.
    """
    name = name.removeprefix("pipelinechannel--")
    if name.endswith("-loop-item"):
        source = name.removesuffix("-loop-item")
        return "item" if source.startswith("loop-item-param") else f"item of {channel(source)}"
    match = re.match(r"(.+)-([A-Za-z_][A-Za-z0-9_]*)$", name)
    if not match:
        return name
    task, output = match.groups()
    return task if output == DEFAULT_OUTPUT else f"{task}.{output}"


def condition_text(condition: str) -> str:
    """kfp's CEL condition in Python words: `int(…['pipelinechannel--n-Output']) < 30` → `n < 30`."""
    text = re.sub(r"inputs\.parameter_values\['([^']+)'\]", lambda m: channel(m.group(1)), condition)
    text = re.sub(r"\b(int|double|string)\(([^()]*)\)", r"\2", text)
    return text.replace("&&", "and").replace("||", "or").replace("!(", "not (")


def clauses(condition: str) -> list[str]:
    """The top-level `&&` clauses of a CEL condition (parentheses respected)."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(condition):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and condition.startswith("&&", index):
            parts.append(condition[start:index].strip())
            start = index + 2
    return [*parts, condition[start:].strip()]


def branch_labels(conditions: list[str]) -> list[str]:
    """Labels of an If/Elif/Else chain from kfp's conditions, in branch order.

    kfp writes branch n as `!(c1) && … && !(c{n-1}) && c_n`; the negations of earlier branches are
    dropped, and a branch left with nothing is the Else.
    """
    labels: list[str] = []
    earlier: set[str] = set()
    for index, condition in enumerate(conditions):
        own = [c for c in clauses(condition) if c and not _negates(c, earlier)]
        words = " and ".join(condition_text(c) for c in own if c)
        keyword = "If" if index == 0 else "Elif"
        labels.append(f"{keyword} {words}" if words else "Else")
        earlier.update([*own, " && ".join(own)])
    return labels


def _negates(clause: str, earlier: set[str]) -> bool:
    return clause.startswith("!(") and clause.endswith(")") and clause[2:-1] in earlier


def items_text(raw: str) -> str:
    """A literal loop list, truncated: '[0, 1, … 19] (20)'."""
    try:
        items = json.loads(raw)
    except ValueError:
        return truncate(raw)
    if not isinstance(items, list):
        return truncate(raw)
    shown = [truncate(json.dumps(i, ensure_ascii=False), 16) for i in items]
    if len(shown) <= MAX_ITEMS_SHOWN + 1:
        return f"[{', '.join(shown)}]"
    return f"[{', '.join(shown[:MAX_ITEMS_SHOWN])}, … {shown[-1]}] ({len(items)})"


def truncate(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def edge_label(outputs: list[str]) -> str:
    """The named outputs an edge carries; the default one says nothing an edge does not already say.

    Keys are output names ('out'), or channels for collected loop outputs ('pipelinechannel--make-out').
    """
    names = [_output_name(o) for o in outputs]
    return ", ".join(n for n in dict.fromkeys(names) if n and n != DEFAULT_OUTPUT)


def _output_name(key: str) -> str:
    if not key.startswith("pipelinechannel--"):
        return key
    written = channel(key)
    return written.split(".", 1)[1] if "." in written else ""


def badge_chips(badges: list[str]) -> str:
    """Badges as one compact line: 'cpu 2 · mem 1G · GPU 1 · no cache · ↻2'."""
    return " · ".join(_short(b) for b in badges)


def html_label(lines: list[str], small: str = "") -> str:
    """A Graphviz HTML-like label: the lines, then `small` in a smaller font (the badge chips)."""
    text = "<BR/>".join(_escape(line) for line in lines)
    if small:
        text += f'<BR/><FONT POINT-SIZE="8">{_escape(small)}</FONT>'
    return f"<{text}>"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _short(badge: str) -> str:
    if badge.startswith("GPU "):
        return badge.replace("× nvidia.com/gpu", "").replace("× ", "× ").strip()
    if badge.startswith("retries "):
        return "↻" + badge.removeprefix("retries ")
    if badge == "cache off":
        return "no cache"
    return truncate(badge, 20)


def same_component(label: str, component: str) -> bool:
    """Whether a task label adds nothing to its component's name ('prepare-4' of 'prepare-4' or 'prepare')."""
    strip = re.compile(r"-\d+$")
    return strip.sub("", label) == strip.sub("", component)
