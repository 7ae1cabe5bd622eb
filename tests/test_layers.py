"""The package layers import only downward: cli -> {scan, expert} -> engine -> {mime, keyring, trust} -> ..."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "smimecore"

BOTTOM = {"errors", "lazy"}  # no layer of its own: every layer may use them
BELOW = {"errors": set(), "lazy": set(), "config": {"errors"}}
BELOW["pki"] = {*BOTTOM, "config"}
BELOW["algorithms"] = {*BOTTOM, "pki"}
BELOW["cms"] = {*BOTTOM, "pki", "algorithms"}
BELOW["mime"] = {*BOTTOM, "cms"}
BELOW["keyring"] = {*BOTTOM, "config", "pki", "algorithms", "cms"}
BELOW["trust"] = {*BOTTOM, "config", "pki"}
BELOW["engine"] = {*BOTTOM, "config", "pki", "algorithms", "cms", "mime", "keyring", "trust"}
BELOW["demo"] = {*BELOW["engine"], "engine"}
BELOW["scan"] = {*BELOW["engine"], "engine"}
BELOW["expert"] = {*BELOW["engine"], "engine"}
BELOW["cli"] = {*BELOW["demo"], "demo", "scan", "expert"}


def _layer(module: Path) -> str:
    relative = module.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py") if len(relative.parts) > 1 else relative.stem


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    """Nodes under ``if TYPE_CHECKING:`` (annotations only, never imported at run time)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            skipped.update(id(child) for statement in node.body for child in ast.walk(statement))
    return skipped


def _imported_layers(module: Path) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name.split(".")[1] for name in names if name.startswith("smimecore.")}


MODULES = sorted(
    path for path in PACKAGE.rglob("*.py") if _layer(path) not in ("__init__", "__main__")
)


@pytest.mark.parametrize("module", MODULES, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_only_go_down(module: Path) -> None:
    """Each module imports its own layer and the layers below it, never one above."""
    layer = _layer(module)
    upward = _imported_layers(module) - BELOW[layer] - {layer}
    assert not upward, f"{layer} imports {sorted(upward)}"
