"""Is a release's schema change safe to roll back by code alone? Read its migrations and say.

Pure functions over the text of Laravel migration files. Only ``up()`` is read
(``down()`` always drops what ``up()`` added). A migration is *additive* when it
only creates tables, columns or indexes: the previous release's code keeps
working against the new schema, so a code-only rollback is safe. It is
*destructive* when it drops, renames or changes the type of something, or
rewrites data: old code may break on it, and undoing it needs the backup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# (pattern in up(), what it does): each one makes a migration destructive
DESTRUCTIVE = (
    (r"Schema::drop(IfExists)?\s*\(", "drops a table"),
    (r"->drop(Column|IfExists|Columns)?\s*\(", "drops a column or table"),
    (r"->drop(Morphs|Timestamps|SoftDeletes|RememberToken)\w*\s*\(", "drops columns"),
    (r"Schema::rename\s*\(", "renames a table"),
    (r"->rename(Column)?\s*\(", "renames a column or table"),
    (r"->change\s*\(\s*\)", "changes a column's type"),
    (r"->(truncate|delete|update)\s*\(", "rewrites data"),
    (r"DB::(statement|unprepared|delete|update)\s*\(", "runs raw SQL or rewrites data"),
)


@dataclass(frozen=True)
class Migration:
    name: str
    kind: str  # "additive" or "destructive"
    reasons: tuple[str, ...] = ()


def up_body(source: str) -> str:
    """The text of ``up()`` (the whole file when there is none)."""
    match = re.search(r"function\s+up\s*\([^)]*\)[^{]*\{", source)
    if not match:
        return source
    depth, i = 1, match.end()
    while i < len(source) and depth:
        depth += {"{": 1, "}": -1}.get(source[i], 0)
        i += 1
    return source[match.end() : i - 1]


def classify(name: str, source: str) -> Migration:
    body = re.sub(r"//[^\n]*|/\*.*?\*/", "", up_body(source), flags=re.S)
    reasons = tuple(dict.fromkeys(what for pattern, what in DESTRUCTIVE if re.search(pattern, body)))
    return Migration(name, "destructive" if reasons else "additive", reasons)


def parse_bundle(text: str) -> dict[str, str]:
    """The migrations written by build.sh into one file: ``=== <path>`` then the file's text."""
    files: dict[str, str] = {}
    current = None
    for line in text.splitlines(keepends=True):
        if line.startswith("=== "):
            current = line[4:].strip()
            files[current] = ""
        elif current is not None:
            files[current] += line
    return files


def describe(found: list[Migration]) -> str:
    if not found:
        return "no new migrations"
    return "; ".join(f"{m.name}: {m.kind}" + (f" ({', '.join(m.reasons)})" if m.reasons else "") for m in found)
