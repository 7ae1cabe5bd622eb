"""mkdocs hooks for the documentation site, so that docs/ reads the same on GitHub and on the site.

- ``<!-- site: page ../README.md -->`` in a page makes that file the page's whole content
  (README.md is the home page, CHANGELOG.md the changelog page);
- a line ``<!-- site: include ../examples/x.py -->`` is replaced by that file: a Markdown file
  inline, anything else as a titled code block;
- links are written relative to the file they appear in, as GitHub resolves them.  On the site, a
  link to a file that is a page becomes a link to that page, and a link that leaves docs/ (to
  examples/, LICENSE...) points at the repository;
- every API reference page (a ``::: module`` directive) must show every name of that module's
  ``__all__``: a name without an anchor in the built page fails the build.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

PAGE = re.compile(r"<!-- site: page (\S+) -->")
INCLUDE = re.compile(r"^<!-- site: include (\S+) -->$", re.MULTILINE)
LINK = re.compile(r"(?<=\]\()([^)\s#]+)(?=[#)])")
DIRECTIVE = re.compile(r"^::: ([\w.]+)", re.MULTILINE)
LANGUAGES = {".py": "python", ".toml": "toml", ".sh": "sh", ".yml": "yaml"}

_docs_dir = Path()
_root = Path()
_repo_url = ""
_pages_of_files: dict[Path, Path] = {}  # a file outside docs/ -> the page that shows it
_api_pages: dict[str, list[str]] = {}  # built page -> the modules it documents


def on_config(config: Any) -> None:
    """Remember where the sources and the repository are."""
    global _docs_dir, _root, _repo_url
    _docs_dir = Path(config["docs_dir"]).resolve()
    _root = Path(config["config_file_path"]).resolve().parent
    _repo_url = str(config["repo_url"]).rstrip("/")
    _pages_of_files.clear()
    _api_pages.clear()


def on_files(files: Any, config: Any) -> None:
    """Find the pages that stand for a file outside docs/."""
    for file in files.documentation_pages():
        source = Path(file.abs_src_path)
        marker = PAGE.search(source.read_text(encoding="utf-8"))
        if marker:
            _pages_of_files[(source.parent / marker.group(1)).resolve()] = source


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Expand page and include markers, rewrite links for the site, note API directives."""
    page_path = Path(page.file.abs_src_path)
    marker = PAGE.search(markdown)
    if marker:
        source = (page_path.parent / marker.group(1)).resolve()
        markdown = _rewrite_links(source.read_text(encoding="utf-8"), source.parent, page_path)
    else:
        markdown = _rewrite_links(markdown, page_path.parent, page_path)
    markdown = INCLUDE.sub(lambda match: _included(match.group(1), page_path), markdown)
    modules = DIRECTIVE.findall(markdown)
    if modules:
        _api_pages[page.file.dest_uri] = modules
    return markdown


def on_post_build(config: Any) -> None:
    """Fail the build when an API page lacks a name of its module's ``__all__``."""
    documented = {module for modules in _api_pages.values() for module in modules}
    if "smimecore" not in documented:
        raise PluginError("the API reference does not document the smimecore package")
    site = Path(config["site_dir"])
    for page, modules in _api_pages.items():
        html = (site / page).read_text(encoding="utf-8")
        for module in modules:
            names = getattr(importlib.import_module(module), "__all__", [])
            missing = [name for name in names if f'id="{module}.{name}"' not in html]
            if missing:
                raise PluginError(f"{page}: {module} is missing {', '.join(missing)}")


def _included(target: str, page_path: Path) -> str:
    source = (page_path.parent / target).resolve()
    text = source.read_text(encoding="utf-8")
    if source.suffix == ".md":
        return _rewrite_links(text, source.parent, page_path)
    title = source.relative_to(_root).as_posix()
    language = LANGUAGES.get(source.suffix, "text")
    return f'```{language} title="{title}"\n{text.rstrip()}\n```'


def _rewrite_links(markdown: str, base: Path, page_path: Path) -> str:
    """Links written relative to ``base`` made right for the page at ``page_path``."""

    def target(match: re.Match[str]) -> str:
        link = match.group(1)
        if "://" in link or link.startswith(("mailto:", "/")):
            return link
        resolved = (base / link).resolve()
        if resolved in _pages_of_files:
            resolved = _pages_of_files[resolved]
        if resolved.is_relative_to(_docs_dir):
            return Path(os.path.relpath(resolved, page_path.parent)).as_posix()
        kind = "tree" if resolved.is_dir() else "blob"
        return f"{_repo_url}/{kind}/main/{resolved.relative_to(_root).as_posix()}"

    return LINK.sub(target, markdown)
