"""Derive every chapter's tree of dkr from the final source tree.

The repository holds only the last chapter.  Chapter markers in comments say
which files and lines exist in earlier chapters; this module strips them to
build any chapter's tree (in memory, on disk, as git branches, as a diff or as
an exercise with functions blanked).  The marker syntax and the chapter.json
format are documented in one place only: chapters/README.md.

Standard library only, so a fresh clone and the docs build can import it
without installing anything.  Note that this file must not itself contain
anything that looks like a marker, because it is part of every snapshot.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable, Sequence

# Paths that only make sense in the main tree (CI, tests of this tool).
EXCLUDED_PREFIXES = (".ci/", "tests/tooling/")
# Directories skipped when the repo is not a git checkout.
_WALK_SKIP = {".git", "__pycache__", ".venv", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_WALK_SKIP_TOP = {"site"}
_CHAPTER_DIR = re.compile(r"^(\d{2})-(.+)$")
_CHAPTER_PATH = re.compile(r"^(?:chapters/(\d{2})-[^/]+|tests/ch(\d{2})_[^/]+)/")
_BRANCH_NAME = re.compile(r"^ch\d{2}$")
_GIT_ENV_DROP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY")
# 2024-01-01T00:00:00Z: fixed so regenerated branches are byte-identical.
_FIXED_EPOCH = 1704067200
_MD_SUFFIXES = {".md", ".markdown", ".html", ".htm", ".svg", ".xml"}
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


class ChapterError(Exception):
    """A user-facing error (bad marker, bad chapter.json, bad argument).

    Messages about a spot in a file start with ``path:line:`` so editors can
    jump there; the CLI prints the message as one line and exits 2.
    """


# ---------------------------------------------------------------- chapters


@dataclass(frozen=True)
class Exercise:
    """One function the reader re-implements: where, which, and hints that
    give away more and more: the first the idea (often a question), the next
    the calls, the last close to the code."""

    file: str
    function: str
    hints: tuple[str, ...]

    @property
    def hint(self) -> str:
        """The first hint, which the blank's NotImplementedError says."""
        return self.hints[0]


@dataclass(frozen=True)
class Chapter:
    """A validated ``chapters/NN-slug/chapter.json``.

    ``data`` keeps the whole JSON object so the docs can use keys this tool
    does not know about (e.g. "try").
    """

    number: int
    slug: str
    title: str
    tag: str
    directory: str
    page: str | None = None
    exercises: tuple[Exercise, ...] = ()
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def load_chapters(repo: Path | str) -> list[Chapter]:
    """Read and validate every chapter.json, sorted by number.

    Directories without a chapter.json are ignored so a chapter can be
    drafted without breaking the tool.
    """
    root = Path(repo) / "chapters"
    if not root.is_dir():
        return []
    chapters: dict[int, Chapter] = {}
    for entry in sorted(root.iterdir()):
        match = _CHAPTER_DIR.match(entry.name)
        if not (match and entry.is_dir() and (entry / "chapter.json").is_file()):
            continue
        chapter = _read_chapter(entry / "chapter.json", int(match[1]), match[2])
        if chapter.number in chapters:
            other = chapters[chapter.number].directory
            raise ChapterError(f"{chapter.directory}: chapter {chapter.number} already defined by {other}")
        chapters[chapter.number] = chapter
    return [chapters[n] for n in sorted(chapters)]


def _read_chapter(path: Path, number: int, slug: str) -> Chapter:
    """Parse one chapter.json; the directory name is the source of truth."""
    where = f"chapters/{path.parent.name}/chapter.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ChapterError(f"{where}:{err.lineno}: invalid JSON: {err.msg}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ChapterError(f"{where}: cannot read: {err}") from None
    if not isinstance(data, dict):
        raise ChapterError(f"{where}: must be a JSON object")
    _expect(data.get("number") == number and type(data.get("number")) is int,
            where, f'"number" must be {number} (the directory prefix)')
    _expect(data.get("tag") == f"ch{number:02d}", where, f'"tag" must be "ch{number:02d}"')
    _expect(data.get("slug") == slug, where, f'"slug" must be "{slug}" (the directory name)')
    _expect(isinstance(data.get("title"), str) and bool(data["title"]), where,
            '"title" must be a non-empty string')
    page = data.get("page")
    _expect(page is None or isinstance(page, str), where, '"page" must be a string')
    return Chapter(number=number, slug=slug, title=data["title"], tag=data["tag"],
                   directory=f"chapters/{path.parent.name}", page=page,
                   exercises=_read_exercises(data.get("exercise", []), where), data=data)


def _read_exercises(raw: object, where: str) -> tuple[Exercise, ...]:
    """Validate the "exercise" list: each entry needs file, function and hints
    (a list of one or more)."""
    _expect(isinstance(raw, list), where, '"exercise" must be a list')
    exercises = []
    for i, item in enumerate(raw):  # type: ignore[arg-type]
        ok = isinstance(item, dict) and all(isinstance(item.get(k), str) and item[k]
                                            for k in ("file", "function"))
        hints = item.get("hints") if isinstance(item, dict) else None
        ok = ok and isinstance(hints, list) and bool(hints) and all(
            isinstance(hint, str) and hint for hint in hints)
        _expect(ok, where, f'"exercise"[{i}] needs string "file" and "function", and '
                           f'"hints": a list of one or more strings')
        exercises.append(Exercise(item["file"], item["function"], tuple(item["hints"])))
    return tuple(exercises)


def _expect(condition: bool, where: str, message: str) -> None:
    """Raise a ChapterError about ``where`` unless the condition holds."""
    if not condition:
        raise ChapterError(f"{where}: {message}")


def max_chapter(repo: Path | str) -> int:
    """The highest chapter number present (0 when there are none)."""
    chapters = load_chapters(repo)
    return chapters[-1].number if chapters else 0


def get_chapter(repo: Path | str, n: int) -> Chapter:
    """The chapter numbered n, or a clear error listing what exists."""
    chapters = load_chapters(repo)
    for chapter in chapters:
        if chapter.number == n:
            return chapter
    have = ", ".join(str(c.number) for c in chapters) or "none"
    raise ChapterError(f"no chapter {n} (chapters present: {have})")


def _require(repo: Path | str, n: int) -> int:
    """Check 1 <= n <= max chapter and return the max chapter."""
    last = max_chapter(repo)
    if last == 0:
        raise ChapterError(f"{Path(repo) / 'chapters'}: no chapters/NN-slug/chapter.json found")
    if not 1 <= n <= last:
        raise ChapterError(f"chapter {n} out of range (chapters are 1..{last})")
    return last


# ----------------------------------------------------------------- markers


@dataclass(frozen=True)
class _Style:
    """The marker regexes for one comment syntax."""

    looks: re.Pattern[str]
    header: re.Pattern[str]
    opener: re.Pattern[str]
    closer: re.Pattern[str]
    suffix: re.Pattern[str]
    fences: bool


def _make_style(start: str, end: str, fences: bool) -> _Style:
    """Build the marker regexes for comments written ``start ... end``.

    The regex text is assembled from pieces so this file never contains a
    literal marker of its own.
    """
    word = "chapter"
    key = start + r"\s*" + word + r"\s*:\s*(?P<lo>\d+)(?:\s*-\s*(?P<hi>\d+))?"
    tail = r"\s*" + end if end else ""
    return _Style(
        looks=re.compile(start + r"\s*" + word + r"\s*:"),
        header=re.compile("^" + key + tail + r"\s*$"),
        opener=re.compile(r"^\s*" + key + r"\s*\{" + tail + r"\s*$"),
        closer=re.compile(r"^\s*" + start + r"\s*\}" + tail + r"\s*$"),
        suffix=re.compile(r"^(?P<code>.*?\S)\s+" + key + tail + r"\s*$"),
        fences=fences,
    )


_HASH = _make_style("#", "", fences=False)
_RETIRED_LINE = re.compile(r"^(\s*)#(?: |$)(.*)$")
_HTML = _make_style("<!--", "-->", fences=True)


def comment_style(path: str) -> str | None:
    """Which marker syntax a file uses: "html", "hash", or None (JSON has no comments)."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix == ".json":
        return None
    return "html" if suffix in _MD_SUFFIXES else "hash"


@dataclass(frozen=True)
class MarkedLine:
    """One output line (marker stripped, line ending kept) and its chapter range."""

    text: str
    first: int
    last: int


@dataclass(frozen=True)
class MarkedText:
    """A parsed file: the chapter range of the whole file and of each line."""

    first: int
    last: int
    lines: tuple[MarkedLine, ...]

    def render(self, n: int) -> str | None:
        """The file's text in chapter n, or None if the file is absent there."""
        if not self.first <= n <= self.last:
            return None
        return "".join(line.text for line in self.lines if line.first <= n <= line.last)


def split_lines(text: str) -> list[str]:
    """Split after each newline, keeping it.

    str.splitlines also breaks on form feeds and other separators, which
    would disagree with editors' and git's line numbers.
    """
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _split_ending(line: str) -> tuple[str, str]:
    """Separate a line's body from its ending so markers can be matched and stripped."""
    for ending in ("\r\n", "\n"):
        if line.endswith(ending):
            return line[: -len(ending)], ending
    return line, ""


class _Parser:
    """Line-by-line marker parser for one file; see parse_markers."""

    def __init__(self, path: str, style: _Style, last_chapter: int) -> None:
        """Start at the top of the file: whole range, no open block or fence."""
        self.path, self.style, self.max = path, style, last_chapter
        self.file_range = (1, last_chapter)
        self.block: tuple[int, int, int] | None = None  # first, last, opener line
        self.fence: str | None = None
        self.out: list[MarkedLine] = []

    def enclosing(self) -> tuple[int, int]:
        """The range new markers must lie within: the open block, else the file."""
        return (self.block[0], self.block[1]) if self.block else self.file_range

    def fail(self, lineno: int, message: str) -> ChapterError:
        """An error located at path:line."""
        return ChapterError(f"{self.path}:{lineno}: {message}")

    def parse(self, text: str) -> MarkedText:
        """Parse the whole text and check that every block was closed."""
        lines = split_lines(text)
        header_at = 1 if self.style is _HASH and lines and lines[0].startswith("#!") else 0
        for index, line in enumerate(lines):
            self.line(index + 1, line, index == header_at)
        if self.block:
            raise self.fail(self.block[2], "chapter block is never closed")
        return MarkedText(self.file_range[0], self.file_range[1], tuple(self.out))

    def keep(self, text: str, first: int, last: int) -> None:
        """Emit one output line with its range."""
        self.out.append(MarkedLine(text, first, last))

    def line(self, lineno: int, line: str, header_slot: bool) -> None:
        """Classify one line: plain, header, block opener/closer, or suffixed."""
        body, ending = _split_ending(line)
        if self.in_fence(body):
            self.keep(line, *self.enclosing())
            return
        style = self.style
        if style.closer.match(body):
            if not self.block:
                raise self.fail(lineno, "block close with no open chapter block")
            self.block = None
            return
        if self.retired_block():
            self.keep(self.uncomment(lineno, body) + ending, *self.enclosing())
            return
        if not style.looks.search(body):
            self.keep(line, *self.enclosing())
            return
        header = style.header.match(body)
        if header and header_slot:
            self.file_range = self.range(lineno, header, (1, self.max))
            return
        if header:
            raise self.fail(lineno, "a whole-file marker must be the first line (second after #!); "
                                    "use a block opener ending in '{' or a marker at the end of a code line")
        opener = style.opener.match(body)
        if opener:
            if self.block:
                raise self.fail(lineno, f"chapter blocks cannot nest "
                                        f"(the block opened at line {self.block[2]} is still open)")
            self.block = (*self.range(lineno, opener, self.file_range), lineno)
            return
        suffix = style.suffix.match(body)
        if suffix and not style.looks.search(suffix["code"]):
            first, last = self.range(lineno, suffix, self.enclosing())
            if style is _HASH and last < self.file_range[1]:
                raise self.fail(lineno, "a line that a later chapter removes must sit commented out "
                                        "in a block, so that the main tree never runs it")
            self.keep(suffix["code"] + ending, first, last)
            return
        raise self.fail(lineno, f"malformed chapter marker: {body.strip()}")

    def retired_block(self) -> bool:
        """Inside a block of code that a later chapter removes (hash files only)?

        Such code is commented out in the main tree, as in Crafting
        Interpreters, so that the main tree is the last chapter and runs.
        """
        return self.style is _HASH and self.block is not None and self.block[1] < self.file_range[1]

    def uncomment(self, lineno: int, body: str) -> str:
        """A retired line as its chapters have it: "# " after the indentation removed."""
        if not body.strip():
            return body
        match = _RETIRED_LINE.match(body)
        if not match:
            raise self.fail(lineno, "code in a block that a later chapter removes must be "
                                    "commented out ('# ' after its indentation)")
        if self.style.looks.search(match[2]):
            raise self.fail(lineno, "no chapter markers inside a block that a later chapter removes")
        return match[1] + match[2]

    def in_fence(self, body: str) -> bool:
        """Track Markdown code fences, whose contents are never markers."""
        if not self.style.fences:
            return False
        if self.fence is None:
            match = _FENCE.match(body)
            if match:
                self.fence = match[1]
            return match is not None
        stripped = body.strip()
        if stripped and set(stripped) == {self.fence[0]} and len(stripped) >= len(self.fence):
            self.fence = None
        return True

    def range(self, lineno: int, match: re.Match[str], enclosing: tuple[int, int]) -> tuple[int, int]:
        """Validate a marker's N[-M]; a missing M means the end of the enclosing range."""
        first = int(match["lo"])
        last = int(match["hi"]) if match["hi"] else enclosing[1]
        for value in (first, last):
            if not 1 <= value <= self.max:
                raise self.fail(lineno, f"chapter {value} out of range (chapters are 1..{self.max})")
        if last < first and match["hi"]:
            raise self.fail(lineno, f"empty chapter range {first}-{last}")
        if not enclosing[0] <= first <= last <= enclosing[1]:
            written = f"{first}-{match['hi']}" if match["hi"] else str(first)
            raise self.fail(lineno, f"chapter range {written} is outside the enclosing range "
                                    f"{enclosing[0]}-{enclosing[1]}")
        return first, last


def parse_markers(text: str, path: str, last_chapter: int) -> MarkedText:
    """Parse a file's chapter markers; raise ChapterError (path:line) if malformed.

    Files without a comment syntax (JSON) are returned unchanged, present in
    every chapter.
    """
    style = comment_style(path)
    if style is None:
        lines = tuple(MarkedLine(line, 1, last_chapter) for line in split_lines(text))
        return MarkedText(1, last_chapter, lines)
    return _Parser(path, _HTML if style == "html" else _HASH, last_chapter).parse(text)


def render_text(text: str, path: str, n: int, last_chapter: int) -> str | None:
    """One file's text in chapter n (None if the file does not exist there)."""
    return parse_markers(text, path, last_chapter).render(n)


# ------------------------------------------------------------------- trees


@dataclass(frozen=True)
class Entry:
    """One file of a snapshot.

    ``data`` is text with markers stripped, raw bytes for binary files, or the
    link target for symlinks.  ``mode`` holds the permission bits.
    """

    data: str | bytes
    mode: int = 0o644
    symlink: bool = False

    @property
    def git_mode(self) -> str:
        """The mode as git writes it in diffs and trees."""
        if self.symlink:
            return "120000"
        return "100755" if self.mode & 0o111 else "100644"

    def as_bytes(self) -> bytes:
        """The content to write to disk."""
        return self.data.encode("utf-8") if isinstance(self.data, str) else self.data


@dataclass(frozen=True)
class Source:
    """A file of the main tree, read once and rendered for any chapter."""

    path: str
    entry: Entry
    marked: MarkedText | None


def _git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment minus GIT_DIR & co, so a git hook's settings cannot redirect us."""
    env = {k: v for k, v in os.environ.items() if k not in _GIT_ENV_DROP}
    env.update(extra or {})
    return env


def _git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git and return its stdout, turning failures into ChapterError."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, env=_git_env(env), capture_output=True,
                              encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        raise ChapterError("git is not installed") from None
    if proc.returncode:
        raise ChapterError(f"git {' '.join(args[:2])} failed: {' '.join(proc.stderr.split())}")
    return proc.stdout


def _is_git_checkout(repo: Path) -> bool:
    """Whether repo is inside a git work tree (and git is installed)."""
    try:
        return _git(repo, "rev-parse", "--is-inside-work-tree").strip() == "true"
    except ChapterError:
        return False


def list_files(repo: Path | str) -> list[str]:
    """The repo's files as git sees them (tracked or untracked-not-ignored), sorted.

    Tracked files deleted from disk are skipped.  Outside git, walk the tree
    skipping caches, virtualenvs and the built site.
    """
    repo = Path(repo)
    if not _is_git_checkout(repo):
        return _walk(repo)
    out = _git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    names = sorted({name for name in out.split("\0") if name})
    return [name for name in names if os.path.islink(repo / name) or (repo / name).is_file()]


def _walk(repo: Path) -> list[str]:
    """List files without git; symlinks to directories count as files."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(repo):
        rel = Path(dirpath).relative_to(repo)
        keep = []
        for name in dirnames:
            if name in _WALK_SKIP or (rel == Path(".") and name in _WALK_SKIP_TOP):
                continue
            if os.path.islink(os.path.join(dirpath, name)):
                filenames.append(name)
            else:
                keep.append(name)
        dirnames[:] = keep
        found.extend((rel / name).as_posix() for name in filenames)
    return sorted(found)


def _excluded(path: str) -> bool:
    """Files that exist only in the main tree, never in a snapshot."""
    return path.startswith(EXCLUDED_PREFIXES)


def _path_in_chapter(path: str, n: int) -> bool:
    """chapters/NN-*/ and tests/chNN_*/ appear from chapter NN on (a file
    there that cannot carry a marker, such as a test's C source, too);
    other paths are decided by markers."""
    match = _CHAPTER_PATH.match(path)
    return match is None or int(match[1] or match[2]) <= n


def _load_file(repo: Path, path: str, last_chapter: int) -> Source:
    """Read one file and parse its markers if it is text."""
    full = repo / path
    info = full.lstat()
    if stat.S_ISLNK(info.st_mode):
        return Source(path, Entry(os.readlink(full), 0o777, symlink=True), None)
    data = full.read_bytes()
    mode = stat.S_IMODE(info.st_mode)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Source(path, Entry(data, mode), None)
    return Source(path, Entry(text, mode), parse_markers(text, path, last_chapter))


def load_sources(repo: Path | str, last_chapter: int | None = None) -> list[Source]:
    """Read and parse every file that can appear in some snapshot.

    Parse once, then render_sources() for each chapter: that is how diff,
    branches and the docs build avoid re-reading the tree per chapter.
    """
    repo = Path(repo)
    last = _require(repo, 1) if last_chapter is None else last_chapter
    return [_load_file(repo, path, last) for path in list_files(repo) if not _excluded(path)]


def _render_one(source: Source, n: int) -> Entry | None:
    """A source file as it is in chapter n, or None if absent."""
    if not _path_in_chapter(source.path, n):
        return None
    if source.marked is None:
        return source.entry
    text = source.marked.render(n)
    return None if text is None else Entry(text, source.entry.mode)


def render_sources(sources: Iterable[Source], n: int) -> dict[str, Entry]:
    """Chapter n's snapshot (path -> Entry) from load_sources()' result."""
    result = {}
    for source in sources:
        entry = _render_one(source, n)
        if entry is not None:
            result[source.path] = entry
    return result


def snapshot_entries(repo: Path | str, n: int) -> dict[str, Entry]:
    """Chapter n's tree in memory: path -> Entry (content, mode, symlink flag)."""
    last = _require(repo, n)
    return render_sources(load_sources(Path(repo), last), n)


def snapshot_files(repo: Path | str, n: int) -> dict[str, str | bytes]:
    """Chapter n's tree in memory: path -> text (str) or binary content (bytes).

    Symlinks map to their target path (a str).
    """
    return {path: entry.data for path, entry in snapshot_entries(repo, n).items()}


def chapter_source(repo: Path | str, n: int, path: str) -> str:
    """One text file as it is in chapter n; ChapterError if absent or binary."""
    repo = Path(repo)
    last = _require(repo, n)
    path = PurePosixPath(path).as_posix()
    if _excluded(path) or not os.path.lexists(repo / path):
        raise ChapterError(f"{path}: not in chapter {n}")
    entry = _render_one(_load_file(repo, path, last), n)
    if entry is None:
        raise ChapterError(f"{path}: not in chapter {n}")
    if entry.symlink or not isinstance(entry.data, str):
        raise ChapterError(f"{path}: not a text file")
    return entry.data


def write_entries(entries: dict[str, Entry], dest: Path) -> None:
    """Write a snapshot to dest, keeping permission bits and symlinks."""
    for path, entry in sorted(entries.items()):
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.symlink:
            os.symlink(entry.data, target)
        else:
            target.write_bytes(entry.as_bytes())
            os.chmod(target, entry.mode)


def _check_empty_dest(dest: Path) -> None:
    """Refuse to mix a snapshot with existing files."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ChapterError(f"{dest}: already exists and is not an empty directory")


def write_snapshot(repo: Path | str, n: int, dest: Path | str) -> dict[str, Entry]:
    """Write chapter n's tree into dest (which must not exist or be empty)."""
    dest = Path(dest)
    _check_empty_dest(dest)
    entries = snapshot_entries(repo, n)
    dest.mkdir(parents=True, exist_ok=True)
    write_entries(entries, dest)
    return entries


def validate_tree(repo: Path | str) -> int:
    """Parse every chapter.json and every file's markers; return the file count."""
    last = _require(repo, 1)
    return len(load_sources(Path(repo), last))


# -------------------------------------------------------------------- diff


def _same(a: Entry | None, b: Entry | None) -> bool:
    """Equal as git sees it: content and git mode (not every permission bit)."""
    if a is None or b is None:
        return a is b
    return a.data == b.data and a.git_mode == b.git_mode


def _diff_file(path: str, a: Entry | None, b: Entry | None) -> list[str]:
    """Git-style diff lines for one file (new, deleted, mode change, content)."""
    out = [f"diff --git a/{path} b/{path}\n"]
    if a is None and b is not None:
        out.append(f"new file mode {b.git_mode}\n")
    elif b is None and a is not None:
        out.append(f"deleted file mode {a.git_mode}\n")
    elif a is not None and b is not None and a.git_mode != b.git_mode:
        out += [f"old mode {a.git_mode}\n", f"new mode {b.git_mode}\n"]
    old = a.data if a else ""
    new = b.data if b else ""
    if old == new:
        return out
    old_name = f"a/{path}" if a else "/dev/null"
    new_name = f"b/{path}" if b else "/dev/null"
    if isinstance(old, bytes) or isinstance(new, bytes):
        return out + [f"Binary files {old_name} and {new_name} differ\n"]
    for line in difflib.unified_diff(split_lines(old), split_lines(new), old_name, new_name):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return out


def diff_snapshots(old: dict[str, Entry], new: dict[str, Entry]) -> str:
    """A unified diff (git style, a/ b/ prefixes) between two in-memory snapshots."""
    lines: list[str] = []
    for path in sorted(old.keys() | new.keys()):
        a, b = old.get(path), new.get(path)
        if not _same(a, b):
            lines += _diff_file(path, a, b)
    return "".join(lines)


def diff_chapter(repo: Path | str, n: int) -> str:
    """What chapter n changes: diff from snapshot n-1 (nothing for n=1) to n."""
    last = _require(repo, n)
    sources = load_sources(Path(repo), last)
    before = render_sources(sources, n - 1) if n > 1 else {}
    return diff_snapshots(before, render_sources(sources, n))


# ---------------------------------------------------------------- branches


def _current_branch(repo: Path) -> str:
    """The checked-out branch name, or "" when HEAD is detached."""
    try:
        ref = _git(repo, "symbolic-ref", "-q", "HEAD").strip()
    except ChapterError:
        return ""
    # not --short: it says "heads/ch02" once a tag ch02 exists too
    return ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else ref


def _write_tree(git_dir: str, entries: dict[str, Entry], work: Path, index: Path) -> str:
    """Store a snapshot as a git tree using a private index and work tree."""
    work.mkdir(parents=True, exist_ok=True)
    write_entries(entries, work)
    env = {"GIT_DIR": git_dir, "GIT_WORK_TREE": str(work), "GIT_INDEX_FILE": str(index)}
    _git(work, "add", "-A", "--force", env=env)
    return _git(work, "write-tree", env=env).strip()


def _commit_tree(repo: Path, tree: str, parent: str | None, chapter: Chapter) -> str:
    """A commit with fixed identity and date, so reruns give identical hashes."""
    date = f"{_FIXED_EPOCH + 60 * chapter.number} +0000"
    env = {"GIT_AUTHOR_NAME": "dkr", "GIT_AUTHOR_EMAIL": "dkr@localhost", "GIT_AUTHOR_DATE": date,
           "GIT_COMMITTER_NAME": "dkr", "GIT_COMMITTER_EMAIL": "dkr@localhost", "GIT_COMMITTER_DATE": date}
    parents = ["-p", parent] if parent else []
    message = f"Chapter {chapter.number}: {chapter.title}"
    return _git(repo, "commit-tree", tree, *parents, "--no-gpg-sign", "-m", message, env=env).strip()


def make_branches(repo: Path | str) -> list[tuple[Chapter, str]]:
    """Create branches and tags chNN as a linear history; return (chapter, commit) pairs.

    Only git plumbing with a temporary index is used: the user's work tree,
    index and current branch are never touched.  Refs are updated only after
    every commit has been built.
    """
    repo = Path(repo)
    chapters = load_chapters(repo)
    last = _require(repo, 1)
    current = _current_branch(repo)
    if _BRANCH_NAME.match(current):
        raise ChapterError(f"the current branch is {current}; "
                           "switch to main before regenerating the chapter branches")
    git_dir = _git(repo, "rev-parse", "--absolute-git-dir").strip()
    sources = load_sources(repo, last)
    made: list[tuple[Chapter, str]] = []
    parent: str | None = None
    with tempfile.TemporaryDirectory(prefix="dkr-chapters-") as tmp:
        for chapter in chapters:
            entries = render_sources(sources, chapter.number)
            tree = _write_tree(git_dir, entries, Path(tmp) / chapter.tag, Path(tmp) / f"{chapter.tag}.index")
            parent = _commit_tree(repo, tree, parent, chapter)
            made.append((chapter, parent))
    _git(repo, "config", "core.warnAmbiguousRefs", "false")
    for chapter, commit in made:
        _git(repo, "update-ref", f"refs/heads/{chapter.tag}", commit)
        _git(repo, "update-ref", f"refs/tags/{chapter.tag}", commit)
    return made


# ---------------------------------------------------------------- exercise


def _cut(line: str, col: int) -> str:
    """The part of a line before an ast column (ast counts UTF-8 bytes)."""
    return line.encode("utf-8")[:col].decode("utf-8", errors="replace")


def _find_function(tree: ast.Module, qualname: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The first top-level function, or Class.method, with that dotted name."""
    scope: list[ast.stmt] = tree.body
    *classes, name = qualname.split(".")
    for class_name in classes:
        found = [node for node in scope if isinstance(node, ast.ClassDef) and node.name == class_name]
        if not found:
            return None
        scope = found[0].body
    for node in scope:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node
    return None


def _trailing_comments_end(lines: list[str], end: int, indent: int) -> int:
    """Extend a body's end over comment lines indented like the body.

    Such comments belong to the solution and would give it away.
    """
    result, index = end, end
    while index < len(lines):
        stripped = lines[index].strip()
        if stripped.startswith("#") and len(lines[index]) - len(lines[index].lstrip()) >= indent:
            result = index + 1
        elif stripped:
            break
        index += 1
    return result


def blank_function(source: str, qualname: str, message: str, path: str = "<source>") -> str:
    """Replace a function's body (after its docstring) with ``raise NotImplementedError(message)``.

    Decorators, the def line(s) and the docstring are kept so the reader sees
    the signature and the contract.
    """
    try:
        module = ast.parse(source)
    except SyntaxError as err:
        raise ChapterError(f"{path}:{err.lineno}: cannot parse: {err.msg}") from None
    node = _find_function(module, qualname)
    if node is None:
        raise ChapterError(f"{path}: no function or method named {qualname}")
    lines = split_lines(source)
    statement = raise_statement(message, node.body[0].col_offset)
    has_doc = ast.get_docstring(node, clean=False) is not None
    rest = node.body[1:] if has_doc else node.body
    if rest:
        _replace_statements(lines, rest[0], rest[-1], statement)
    else:
        _append_after(lines, node.body[0], statement)
    result = "".join(lines)
    ast.parse(result)  # a bug here must not ship a broken exercise
    return result


# The longest line a blank may have: dkr's own (tests/tooling/test_style.py).
LINE_LENGTH = 88


def raise_statement(message: str, indent: int) -> str:
    """``raise NotImplementedError(message)``, its message split over lines
    (Python joins the strings) where one line would be longer than LINE_LENGTH."""
    single = f"raise NotImplementedError({json.dumps(message, ensure_ascii=False)})"
    if indent + len(single) <= LINE_LENGTH:
        return single
    width = LINE_LENGTH - indent - 4 - 3  # the quotes, and the last line's ")"
    pieces, piece = [], ""
    for word in message.split(" "):
        if piece and len(piece) + 1 + len(word) > width:
            pieces.append(piece + " ")
            piece = word
        else:
            piece = f"{piece} {word}" if piece else word
    pieces.append(piece)
    continued = "\n" + " " * (indent + 4)
    strings = continued.join(json.dumps(part, ensure_ascii=False) for part in pieces)
    return f"raise NotImplementedError({continued}{strings})"


def _replace_statements(lines: list[str], first: ast.stmt, last: ast.stmt, statement: str) -> None:
    """Swap the statements first..last for one statement, in place."""
    start = first.lineno - 1
    prefix = _cut(lines[start], first.col_offset)
    end = last.end_lineno or last.lineno
    if prefix.strip():  # body on the def line: "def f(): return 1"
        lines[start:end] = [prefix + statement + _split_ending(lines[end - 1])[1]]
        return
    end = _trailing_comments_end(lines, end, len(prefix))
    lines[start:end] = [prefix + statement + (_split_ending(lines[end - 1])[1] or "\n")]


def _append_after(lines: list[str], docstring: ast.stmt, statement: str) -> None:
    """Add the statement after a docstring-only body, in place."""
    prefix = _cut(lines[docstring.lineno - 1], docstring.col_offset)
    end = docstring.end_lineno or docstring.lineno
    body, ending = _split_ending(lines[end - 1])
    if prefix.strip():  # def f(): "doc"
        lines[end - 1] = _cut(body, docstring.end_col_offset or len(body)) + "; " + statement + ending
        return
    if not ending:
        lines[end - 1] = body + "\n"
    lines.insert(end, prefix + statement + (ending or "\n"))


def exercise_entries(repo: Path | str, n: int) -> tuple[dict[str, Entry], tuple[Exercise, ...]]:
    """Chapter n's snapshot with its exercise functions blanked, in memory."""
    chapter = get_chapter(repo, n)
    entries = snapshot_entries(repo, n)
    for exercise in chapter.exercises:
        entry = entries.get(exercise.file)
        if entry is None or not isinstance(entry.data, str) or entry.symlink:
            raise ChapterError(f"{chapter.directory}/chapter.json: exercise file {exercise.file} "
                               f"is not a text file in chapter {n}")
        message = f"chapter {n} exercise: {exercise.hint}"
        text = blank_function(entry.data, exercise.function, message, exercise.file)
        entries[exercise.file] = Entry(text, entry.mode)
    return entries, chapter.exercises


def make_exercise(repo: Path | str, n: int, dest: Path | str) -> tuple[Exercise, ...]:
    """Write chapter n's tree into dest with its exercise functions blanked.

    Everything is computed before writing, so an error leaves dest untouched.
    """
    dest = Path(dest)
    _check_empty_dest(dest)
    entries, exercises = exercise_entries(repo, n)
    dest.mkdir(parents=True, exist_ok=True)
    write_entries(entries, dest)
    return exercises


# ------------------------------------------------------------------- check


def _python(repo: Path) -> str:
    """The interpreter of the project's development environment (made by
    scripts/venv on first use, with pytest in it), else ours."""
    make_venv = repo / "scripts" / "venv"
    if not make_venv.exists():
        return sys.executable
    return subprocess.run([str(make_venv)], check=True, stdout=subprocess.PIPE,
                          text=True).stdout.strip()


# How `check` runs pytest unless told otherwise: quiet, a line per failure, and
# stopping after a few, so that an unsolved tree answers in seconds.
CHECK_ARGS = ("-q", "--maxfail=3", "--tb=line", "-p", "no:cacheprovider")


def run_check(repo: Path | str, n: int, tree: Path | str, pytest_args: Sequence[str] = ()) -> int:
    """Run the tests of chapters 1..n (those in tree/tests) and return pytest's status.

    pytest_args come after CHECK_ARGS, so they win (`--maxfail=0` runs all)."""
    _require(repo, n)
    tree = Path(tree)
    if not (tree / "tests").is_dir():
        raise ChapterError(f"{tree / 'tests'}: no tests directory "
                           f"(create the tree with: scripts/chapters exercise {n} {tree})")
    command = [_python(Path(repo)), "-m", "pytest", "tests", *CHECK_ARGS, *pytest_args]
    if os.geteuid() == 0 and shutil.which("unshare"):
        # A UTS namespace of the tests' own: an unfinished exercise that leaves
        # the container in the host's cannot rename the host.
        command = ["unshare", "--uts", *command]
    proc = subprocess.run(command, cwd=tree)
    if proc.returncode == 0:
        print(f"chapter {n}: all tests pass: every blank of the exercise is written, "
              f"and chapters 1-{n} work as the book's do")
    elif proc.returncode == 5:
        print(f"chapter {n}: no tests were collected")
    else:
        print(f"chapter {n}: tests fail — keep going. The lines above say where: "
              f"a line \"chapter {n} exercise: …\" is a blank still to write, "
              f"with its first hint; "
              f"the page has more hints. Add `-- --maxfail=0` to run every test.")
    return proc.returncode


# --------------------------------------------------------------------- CLI


def _default_repo() -> Path:
    """The repository this file lives in (scripts/ is at its top)."""
    return Path(__file__).resolve().parent.parent


def _cmd_list(args: argparse.Namespace, _extra: list[str]) -> int:
    """Print number, tag and title of each chapter."""
    for chapter in load_chapters(args.repo):
        print(f"{chapter.number:2d}  {chapter.tag}  {chapter.title}")
    return 0


def _cmd_snapshot(args: argparse.Namespace, _extra: list[str]) -> int:
    """Write one chapter's tree to a directory."""
    entries = write_snapshot(args.repo, args.n, args.dir)
    print(f"wrote chapter {args.n} ({len(entries)} files) to {args.dir}")
    return 0


def _cmd_diff(args: argparse.Namespace, _extra: list[str]) -> int:
    """Print what one chapter changes."""
    sys.stdout.write(diff_chapter(args.repo, args.n))
    return 0


def _cmd_branches(args: argparse.Namespace, _extra: list[str]) -> int:
    """Create the chNN branches and tags."""
    for chapter, commit in make_branches(args.repo):
        print(f"{chapter.tag} {commit[:12]} Chapter {chapter.number}: {chapter.title}")
    return 0


def _cmd_exercise(args: argparse.Namespace, _extra: list[str]) -> int:
    """Write a chapter's tree with exercise functions blanked, and say how to check it."""
    exercises = make_exercise(args.repo, args.n, args.dir)
    print(f"wrote chapter {args.n} exercise tree to {args.dir}")
    for exercise in exercises:
        print(f"  blanked {exercise.file}: {exercise.function}")
    if not exercises:
        print(f"  (chapter {args.n} lists no exercise functions)")
    print(f"check your work with: scripts/chapters check {args.n} {args.dir}")
    return 0


def _cmd_check(args: argparse.Namespace, extra: list[str]) -> int:
    """Run the chapter's tests against a tree."""
    return run_check(args.repo, args.n, args.dir, extra)


def _cmd_lint(args: argparse.Namespace, _extra: list[str]) -> int:
    """Validate chapter.json files and every marker."""
    count = validate_tree(args.repo)
    print(f"ok: {len(load_chapters(args.repo))} chapters, {count} files")
    return 0


_Handler = Callable[[argparse.Namespace, list[str]], int]
_COMMANDS: list[tuple[str, _Handler, str, bool]] = [
    ("list", _cmd_list, "print each chapter's number, tag and title", False),
    ("snapshot", _cmd_snapshot, "write chapter N's tree into DIR (must not exist or be empty)", True),
    ("diff", _cmd_diff, "print chapter N's change: unified diff from chapter N-1 to N", False),
    ("branches", _cmd_branches, "create branches and tags ch01..chNN as a linear history", False),
    ("exercise", _cmd_exercise, "write chapter N's tree into DIR with its exercise functions blanked", True),
    ("check", _cmd_check, "run chapter N's tests against DIR; extra pytest arguments go after --", True),
    ("lint", _cmd_lint, "validate every chapter.json and chapter marker", False),
]


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser; every subcommand has its own --help."""
    parser = argparse.ArgumentParser(
        prog="chapters", description="Derive dkr's per-chapter trees from the final tree "
                                     "(marker syntax: chapters/README.md).")
    parser.add_argument("--repo", type=Path, default=_default_repo(),
                        help="repository to work on (default: the one this script lives in)")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--repo", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, handler, text, takes_dir in _COMMANDS:
        cmd = sub.add_parser(name, help=text, description=text, parents=[common])
        if name not in ("list", "branches", "lint"):
            cmd.add_argument("n", type=int, metavar="N", help="chapter number")
        if takes_dir:
            cmd.add_argument("dir", type=Path, metavar="DIR", help="directory for the chapter's tree")
        cmd.set_defaults(func=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; ChapterError becomes one line on stderr and status 2."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in args_list:
        cut = args_list.index("--")
        args_list, extra = args_list[:cut], args_list[cut + 1:]
    parser = build_parser()
    args = parser.parse_args(args_list)
    if extra and args.command != "check":
        parser.error("arguments after -- are only accepted by check")
    try:
        return args.func(args, extra)
    except ChapterError as err:
        print(str(err).replace("\n", " "), file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. "chapters diff 3 | head"
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
