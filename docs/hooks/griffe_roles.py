"""A griffe extension: the docstrings' reStructuredText habits shown as Markdown on the site.

``:class:`~smimecore.errors.ConfigError``` becomes ```ConfigError```, a paragraph ending in
``::`` (a literal block follows) ends in ``:``.  The docstrings themselves stay as they are.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|exc|mod|obj|const):`(~?)([^`]+)`")
LITERAL_MARKER = re.compile(r"(\S)::$", re.MULTILINE)
LONE_LITERAL_MARKER = re.compile(r"^\s*::\n", re.MULTILINE)


def markdown_of(docstring: str) -> str:
    """The docstring with roles as code spans and ``::`` markers as colons."""

    def code(match: re.Match[str]) -> str:
        shortened, target = match.groups()
        return f"`{target.rsplit('.', 1)[-1] if shortened else target}`"

    text = ROLE.sub(code, docstring)
    text = LITERAL_MARKER.sub(r"\1:", text)
    return LONE_LITERAL_MARKER.sub("", text)


class SphinxRoles(griffe.Extension):
    """Rewrites every loaded object's docstring with :func:`markdown_of`."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Called by griffe for each object it loads."""
        if obj.docstring is not None:
            obj.docstring.value = markdown_of(obj.docstring.value)
