"""Custom error pages: the page files checked (validation) and read once (compile).

Rules of this module:
- the model fetches `customErrorPageUrl` into a cache when the configuration is applied; a
  self-hosted gateway reads a local file instead (`customErrorPageFile`, probegate extension), at
  load and on each reload, never per request; a URL alone is kept as a note (`advice` says so);
- a page is HTML (`.htm` / `.html`, as the model requires) of at most 1 MB (the model's cap);
- listener-level pages replace the gateway-level ones for that listener as a whole, as in the
  model (a listener that names any page names every page it wants).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from probegate.config.document import LISTENERS, Doc, Issues
from probegate.errors import ConfigIssue

PAGES = "customErrorConfigurations"
MAX_PAGE = 1024 * 1024
CODES = frozenset({400, 403, 405, 408, 500, 502, 503, 504})
_SUFFIXES = (".htm", ".html")
CONTENT_TYPE = b"text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class ErrorPage:
    status: int
    body: bytes
    source: str  # the file it was read from, for explain and messages


ErrorPages = Mapping[int, ErrorPage]
NO_PAGES: ErrorPages = MappingProxyType({})  # immutable: a dataclass default


def status_code(value: object) -> int | None:
    """`HttpStatus502` (any case) → 502; None for anything else (the schema reports it)."""
    if not isinstance(value, str) or not value.lower().startswith("httpstatus"):
        return None
    digits = value[len("httpstatus") :]
    return int(digits) if digits.isdigit() and int(digits) in CODES else None


def resolve(base_dir: Path, name: str) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() else base_dir / path


def page_problem(path: Path) -> str | None:
    if path.suffix.lower() not in _SUFFIXES:
        return f"'{path}' must be an .htm or .html file (as the model requires)"
    try:
        size = path.stat().st_size
    except OSError as problem:
        return f"cannot read '{path}': {problem.strerror or problem}"
    if size > MAX_PAGE:
        return f"'{path}' is {size} bytes; a custom error page is at most {MAX_PAGE} bytes (1 MB)"
    return None


def read_pages(items: list[tuple[int, str | None]], base_dir: Path) -> ErrorPages:
    """(status, file) pairs → pages; entries without a file (a URL only) are not served."""
    pages: dict[int, ErrorPage] = {}
    for status, name in items:
        if name is not None:
            path = resolve(base_dir, name)
            pages[status] = ErrorPage(status, path.read_bytes(), str(path))
    return pages


# ------------------------------------------------------------------------ validation


def problems(doc: Doc) -> Issues:
    yield from _level(doc, PAGES, doc.raw.get(PAGES))
    for path, listener in doc.items(LISTENERS):
        yield from _level(doc, f"{path}.{PAGES}", listener.get(PAGES))


def _level(doc: Doc, path: str, items: Any) -> Issues:
    seen: dict[int, str] = {}
    for i, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            continue
        where = f"{path}[{i}]"
        code = status_code(item.get("statusCode"))
        if code is not None and code in seen:
            yield ConfigIssue(
                f"{where}.statusCode", f"HttpStatus{code} already has a page at {seen[code]}"
            )
        if code is not None:
            seen.setdefault(code, where)
        name = item.get("customErrorPageFile")
        problem = page_problem(resolve(doc.base_dir, name)) if isinstance(name, str) else None
        if problem is not None:
            yield ConfigIssue(f"{where}.customErrorPageFile", problem)


def url_only_notes(prefix: str, items: list[tuple[int, str | None, str | None]]) -> list[str]:
    """Advice for pages given only by URL: nothing is fetched, so nothing is served for them."""
    return [
        f"{prefix}[{i}]: HttpStatus{code} names only customErrorPageUrl ({url}); probegate does not "
        "fetch pages: save a local copy and give it as customErrorPageFile (until then the "
        "gateway's plain answer is served)"
        for i, (code, file, url) in enumerate(items)
        if file is None and url is not None
    ]
