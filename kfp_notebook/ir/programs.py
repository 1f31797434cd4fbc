"""A lightweight Python component's program as kfp writes it into its container: source, function, packages."""

from __future__ import annotations

import functools
import re
import shlex

from kfp_notebook.ir.model import Container, PythonProgram


def lightweight_program(container: Container) -> PythonProgram:
    args = list(container.args)
    function = args[args.index("--function_to_execute") + 1]
    command = container.command
    packages, index_urls = parse_pip_install(command[2] if len(command) > 2 else "")
    return PythonProgram(command[-1], function, packages, index_urls)


@functools.lru_cache(maxsize=256)  # the same few scripts for a pipeline's many tasks
def parse_pip_install(script: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The packages and index URLs of the `pip install` kfp writes (its own kfp install left out)."""
    packages: list[str] = []
    index_urls: list[str] = []
    for segment in re.split(r"&&", script):
        if "pip install" not in segment:
            continue
        words = shlex.split(segment.split("pip install", 1)[1])
        requirements, urls = _install_arguments(words)
        if any(r.startswith("kfp==") for r in requirements) and "--no-deps" in words:
            continue
        packages += requirements
        index_urls += [u for u in urls if u not in index_urls]
    return tuple(packages), tuple(index_urls)


def _install_arguments(words: list[str]) -> tuple[list[str], list[str]]:
    requirements, urls, skip_next = [], [], False
    for position, word in enumerate(words):
        if skip_next:
            skip_next = False
            continue
        if word in ("--index-url", "--extra-index-url"):
            urls.append(words[position + 1])
            skip_next = True
        elif word == "--trusted-host":
            skip_next = True
        elif not word.startswith("-") and word not in ('"$0"', '"$@"'):
            requirements.append(word)
    return requirements, urls
