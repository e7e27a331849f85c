"""The core does no I/O: it imports only the standard library's pure modules, defusedxml,
msgspec (typed JSON decoding) and hookrelay's own core and exceptions, and calls nothing that
reads the outside world."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hookrelay.core

CORE = Path(hookrelay.core.__file__).parent
PURE_STDLIB = [
    "__future__",
    "abc",
    "base64",
    "binascii",
    "collections",
    "dataclasses",
    "datetime",
    "email",
    "codecs",
    "enum",
    "fnmatch",  # fnmatchcase matches a name against a glob; it reads no file
    "functools",
    "hashlib",
    "hmac",
    "itertools",
    "json",
    "math",
    "operator",
    "re",
    "string",
    "textwrap",
    "types",
    "typing",
    "unicodedata",
    "urllib",
]
ALLOWED = {*PURE_STDLIB, "defusedxml", "msgspec", "hookrelay"}
ALLOWED_HOOKRELAY = ("hookrelay.core", "hookrelay.exceptions")
# Calls that read the outside world even without an import: files, the clock, the terminal.
FORBIDDEN_CALLS = {"open", "input", "print", "now", "utcnow", "today", "time", "monotonic"}


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def imported_modules(tree: ast.Module) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_module_does_no_io(path: Path) -> None:
    """Each core module imports only pure modules and calls no file, clock or terminal function."""
    tree = parsed(path)
    for name in imported_modules(tree):
        assert name.split(".")[0] in ALLOWED, f"{path.name} imports {name}"
        if name.startswith("hookrelay"):
            assert name.startswith(ALLOWED_HOOKRELAY), f"{path.name} imports {name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    """The import check flags a module that imports socket, so a pass above means something."""
    bad = tmp_path / "bad.py"
    bad.write_text("import socket\nfrom os import environ\n")
    assert [n.split(".")[0] in ALLOWED for n in imported_modules(parsed(bad))] == [False, False]
