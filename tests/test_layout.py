"""The tests' own layout: shared helpers only in tests/support, folders mirroring the packages.

Every Python file under tests/ is parsed with `ast` (never imported), so a helper hidden in a
test module or a conftest, imported from elsewhere, fails here with the file and line named.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
#: Packages whose tests sit in one folder per sub-package (tests/dispatch/core/ for dispatch.core).
MIRRORED = ("dispatch", "simulator")


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of everything a module imports, at any depth, names included.

    `from tests.a import b` yields "tests.a" and "tests.a.b" (b may be a module); a relative
    import yields its dots, so it is caught as well.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}" if node.module else base + alias.name


def imports_of(path: Path) -> list[tuple[int, str]]:
    return list(imported_modules(ast.parse(path.read_text(), filename=str(path))))


def python_files() -> list[Path]:
    return sorted(TESTS.rglob("*.py"))


def is_support(name: str) -> bool:
    return name == "tests.support" or name.startswith("tests.support.")


def test_the_walk_sees_the_imports_it_must_refuse() -> None:
    """The parser reports `from tests.a import b` as tests.a and tests.a.b, and relative ones."""
    tree = ast.parse("from tests.a import b\nimport tests.c\nfrom . import d\nfrom ..e import f\n")
    assert list(imported_modules(tree)) == [
        (1, "tests.a"),
        (1, "tests.a.b"),
        (2, "tests.c"),
        (3, "."),
        (3, ".d"),
        (4, "..e"),
        (4, "..e.f"),
    ]


def test_tests_import_only_tests_support_from_tests() -> None:
    """No file under tests/ imports a `tests.` module outside tests.support, nor anything
    relative: helpers are shared through tests/support, never through a test module."""
    wrong = [
        f"{path.relative_to(REPO)}:{line}: {name}"
        for path in python_files()
        for line, name in imports_of(path)
        if (name == "tests" or name.startswith(("tests.", "."))) and not is_support(name)
    ]
    assert wrong == []


def test_no_file_imports_a_conftest() -> None:
    """Fixtures reach tests through pytest, never by importing a conftest module."""
    wrong = [
        f"{path.relative_to(REPO)}:{line}: {name}"
        for path in python_files()
        for line, name in imports_of(path)
        if "conftest" in name.split(".")
    ]
    assert wrong == []


def test_every_support_module_says_what_it_owns() -> None:
    """Each module in tests/support opens with a docstring."""
    bare = [
        path.name
        for path in sorted((TESTS / "support").glob("*.py"))
        if not ast.get_docstring(ast.parse(path.read_text()))
    ]
    assert bare == []


def test_dispatch_and_simulator_tests_mirror_their_sub_packages() -> None:
    """Tests of dispatch and simulator sit in a folder named after an existing sub-package
    (tests/dispatch/store/ for dispatch/store/), none loose at the top."""
    loose, unknown = [], []
    for package in MIRRORED:
        loose += [str(p.relative_to(REPO)) for p in (TESTS / package).glob("test_*.py")]
        for folder in sorted(p for p in (TESTS / package).iterdir() if p.is_dir()):
            if folder.name != "__pycache__" and not (REPO / package / folder.name).is_dir():
                unknown.append(str(folder.relative_to(REPO)))
    assert (loose, unknown) == ([], [])
