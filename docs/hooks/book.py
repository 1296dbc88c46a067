"""The book's mkdocs hook: every page is a jinja2 template over the code.

A page says *which* code it shows, never the code itself:

    {{ code("dkr/mounts.py", "pivot_into") }}      a function, class, method or constant
    {{ code("dkr/container.py") }}                  a whole file
    {{ exercise("pivot_into") }}                    an exercise: stub, hints, folded solution
    {{ diff(3, "dkr/") }}                           chapter 3's change (of one file or folder)
    {{ transcript("ch03-volumes") }}                a run recorded by scripts/transcripts
    {{ cli_help("run") }}                           `dkr run --help`
    {{ chapter.title }}, {{ chapters }}             chapters/NN-*/chapter.json

Code comes from the page's own chapter's snapshot (scripts/chaptertool.py),
so chapter 2's page shows chapter 2's code. Anything a page names that does
not exist (a renamed function, a missing transcript, an unknown chapter)
fails the build with a message saying which page asked for what: a rename
in the code breaks the build, not the book.

Three rules of the book's pattern (docs/CONTRIBUTING.md) are kept here,
so that they cannot drift: the lines a chapter adds to code that an earlier
chapter had are highlighted (computed from the two chapters' code); a
chapter's exercise functions appear on its page only blanked, or inside the
folded Solution of `exercise()` (the chapter's own diff shows them blanked
too); and a picture opens at full size when it is tapped.

Jinja comments are written {## ... ##}, so that Markdown's {#id} stays Markdown.
"""

from __future__ import annotations

import ast
import difflib
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2
from mkdocs.exceptions import PluginError

REPO = Path(__file__).resolve().parents[2]
TRANSCRIPTS = "docs/transcripts"
sys.path.insert(0, str(REPO / "scripts"))

import chaptertool  # noqa: E402  (found through the sys.path entry above)

# A line holding nothing but an indented {{ call }}: its output is indented
# like the call, so a code block can sit inside an admonition or a tab.
_INDENTED_CALL = re.compile(r"^(?P<indent>[ \t]+)\{\{(?P<expr>(?:(?!\}\}).)*)\}\}[ \t]*$", re.MULTILINE)
# ![alt](path) not already the inside of a link: made a link to the picture itself.
_PICTURE = re.compile(r"(?<!\[)!\[(?P<alt>[^\]]*)\]\((?P<path>[^)\s]+\.svg)\)")
_LANGUAGES = {".py": "python", ".sh": "sh", ".json": "json", ".yml": "yaml", ".yaml": "yaml",
              ".md": "markdown", ".toml": "toml", ".txt": "text", ".svg": "xml"}


class BookError(Exception):
    """Something a page refers to does not exist."""


class Book:
    """What one build knows: the chapters, and each chapter's snapshot (made once)."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        try:
            self.chapters = chaptertool.load_chapters(repo)
            self.last = chaptertool.max_chapter(repo)
            self.sources = chaptertool.load_sources(repo, self.last)
        except chaptertool.ChapterError as error:
            raise PluginError(f"book: {error}") from None
        if self.last > 1 and not any(_has_markers(source, self.last) for source in self.sources):
            raise PluginError(
                f"book: this tree is chapter {self.last}'s snapshot (a chNN branch or "
                f"`scripts/chapters snapshot`): its chapter markers are stripped, so the pages "
                f"of earlier chapters cannot show their own code here. Build the book from the "
                f"main branch.")
        self.snapshots: dict[int, dict[str, chaptertool.Entry]] = {}
        self.exercise_trees: dict[int, dict[str, chaptertool.Entry]] = {}
        self.help_texts: dict[tuple[str, ...], str] = {}

    def chapter(self, n: int) -> chaptertool.Chapter:
        for chapter in self.chapters:
            if chapter.number == n:
                return chapter
        have = ", ".join(str(c.number) for c in self.chapters) or "none"
        raise BookError(f"there is no chapter {n!r} (chapters: {have})")

    def snapshot(self, n: int, written: bool = True) -> dict[str, chaptertool.Entry]:
        """Chapter n's tree; with written=False also a number whose chapter.json
        is not written yet (the tree as the markers make it, as `scripts/chapters diff` does)."""
        if n not in self.snapshots:
            if written:
                self.chapter(n)
            self.snapshots[n] = chaptertool.render_sources(self.sources, n)
        return self.snapshots[n]

    def exercise_tree(self, n: int) -> dict[str, chaptertool.Entry]:
        """Chapter n's tree with its exercise functions blanked (made once)."""
        if n not in self.exercise_trees:
            try:
                self.exercise_trees[n], _ = chaptertool.exercise_entries(self.repo, n)
            except chaptertool.ChapterError as error:
                raise BookError(str(error)) from None
        return self.exercise_trees[n]

    def source(self, n: int, path: str) -> str:
        """A text file as it is in chapter n."""
        entry = self.snapshot(n).get(PurePosixPath(path).as_posix())
        if entry is None:
            raise BookError(f"{path} does not exist in chapter {n}")
        if entry.symlink or not isinstance(entry.data, str):
            raise BookError(f"{path} is not a text file")
        return entry.data

    def page_chapter(self, page_path: str) -> chaptertool.Chapter | None:
        """The chapter whose "page" is this file (a path from the repo's top)."""
        for chapter in self.chapters:
            if chapter.page == page_path:
                return chapter
        return None

    def try_names(self) -> dict[str, int]:
        """Every transcript any chapter.json lists under "try": name -> chapter."""
        return {entry["name"]: c.number for c in self.chapters for entry in c.data.get("try", [])}


_book: Book | None = None


def on_pre_build(config: Any) -> None:
    """A fresh Book per build (mkdocs serve rebuilds after every edit)."""
    global _book
    _book = Book(REPO)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Strip chapter markers, then render the page as a template."""
    book = _book or Book(REPO)
    docs = Path(config["docs_dir"]).resolve().relative_to(REPO).as_posix()
    page_path = f"{docs}/{page.file.src_uri}"
    try:
        markdown = chaptertool.render_text(markdown, page_path, book.last, book.last) or ""
    except chaptertool.ChapterError as error:
        raise PluginError(str(error)) from None
    page_tools = PageTools(book, book.page_chapter(page_path))
    markdown = _PICTURE.sub(lambda m: f"[![{m['alt']}]({m['path']})]({m['path']})", markdown)
    try:
        template = _environment().from_string(_indent_calls(markdown))
        text = template.render(**page_tools.context())
    except jinja2.TemplateSyntaxError as error:
        raise PluginError(f"{page_path}:{error.lineno}: {error.message}") from None
    except (BookError, jinja2.UndefinedError, chaptertool.ChapterError, TypeError) as error:
        raise PluginError(f"{page_path}: {error}") from None
    try:
        page_tools.check_all_transcripts_shown()
    except BookError as error:
        raise PluginError(f"{page_path}: {error}") from None
    return text


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
        comment_start_string="{##", comment_end_string="##}",
    )


def _indent_calls(markdown: str) -> str:
    """`    {{ code(...) }}` -> every line of the output indented by four spaces."""
    def indent(match: re.Match[str]) -> str:
        width = len(match["indent"].expandtabs(4))
        return f"{match['indent']}{{{{ ({match['expr'].strip()}) | indent({width}, blank=True) }}}}"

    return _INDENTED_CALL.sub(indent, markdown)


class PageTools:
    """The functions and values one page's template sees."""

    def __init__(self, book: Book, chapter: chaptertool.Chapter | None) -> None:
        self.book = book
        self.page_chapter = chapter
        self.shown: set[str] = set()

    def context(self) -> dict[str, Any]:
        chapters = [self._chapter_data(c) for c in self.book.chapters]
        current = self._chapter_data(self.page_chapter) if self.page_chapter else None
        return {"code": self.code, "diff": self.diff, "transcript": self.transcript,
                "cli_help": self.cli_help, "exercise": self.exercise, "chapter": current,
                "chapters": chapters, "last_chapter": self.book.last}

    def _chapter_data(self, chapter: chaptertool.Chapter) -> dict[str, Any]:
        """chapter.json as is, plus "link": the page's path relative to docs/."""
        data = dict(chapter.data)
        if chapter.page:
            data["link"] = chapter.page.split("/", 1)[1] if "/" in chapter.page else chapter.page
        data.setdefault("exercise", [])
        data.setdefault("try", [])
        return data

    def _default_chapter(self, chapter: int | None) -> int:
        if chapter is not None:
            self.book.chapter(chapter)
            return chapter
        return self.page_chapter.number if self.page_chapter else self.book.last

    # -------------------------------------------------------------- code

    def code(self, path: str, name: str | None = None, chapter: int | None = None,
             lines: str | tuple[int, int] | None = None, blanked: bool = False,
             solution: bool = False) -> str:
        """A python block with `name` (or the whole file) from chapter `chapter`'s `path`.

        blanked=True shows the function as the chapter's exercise has it. The
        lines that chapter `chapter` adds to what chapter `chapter` - 1 had
        are highlighted. An exercise function of the page's own chapter is
        refused unless blanked, or shown as the Solution (`exercise()`)."""
        n = self._default_chapter(chapter)
        where = f"code({path!r}{', ' + repr(name) if name else ''}) in chapter {n}"
        if not (blanked or solution):
            self._refuse_solutions(path, name, n, where)
        try:
            text = self.book.source(n, path)
        except BookError as error:
            raise BookError(f"{where}: {error}") from None
        if blanked:
            text = self._blank(text, path, name, n, where)
        first = 1
        if name is not None:
            try:
                text, first = extract(text, name, path)
            except BookError as error:
                raise BookError(f"{where}: {error}") from None
        added = [] if blanked else self._added_lines(path, name, n, text)
        if lines is not None:
            text, cut_first = _cut_lines(text, first, lines, where)
            skipped = cut_first - first
            kept = len(text.split("\n"))
            added = [line - skipped for line in added if skipped < line <= skipped + kept]
            first = cut_first
        title = path if name is None else f"{path}: {name}"
        return fence(_language(path, text), text, title=title, linenums=first,
                     highlight=added)

    def _refuse_solutions(self, path: str, name: str | None, n: int, where: str) -> None:
        """A page shows its own chapter's exercise functions only blanked or
        folded: the learner meets the stub before the answer."""
        if self.page_chapter is None or self.page_chapter.number != n:
            return
        for exercise in self.page_chapter.exercises:
            shown = exercise.function == name or (
                name is None or exercise.function.startswith(f"{name}."))
            if exercise.file == path and shown:
                raise BookError(f"{where} shows {exercise.function}, an exercise of this "
                                f"chapter, in plain sight: show it with "
                                f"exercise({exercise.function!r}) (a stub, then the hints "
                                f"and the solution, folded)")

    def _added_lines(self, path: str, name: str | None, n: int, text: str) -> list[int]:
        """The lines of `text` (chapter n's excerpt) that chapter n - 1 did not
        have: none when the excerpt is new in chapter n (it is all new)."""
        if n == 1:
            return []
        entry = self.book.snapshot(n - 1, written=False).get(path)
        if entry is None or not isinstance(entry.data, str):
            return []
        before = entry.data
        if name is not None:
            try:
                before, _ = extract(before, name, path)
            except BookError:
                return []
        old, new = before.split("\n"), text.split("\n")
        added = []
        for tag, _, _, start, end in difflib.SequenceMatcher(None, old, new,
                                                            autojunk=False).get_opcodes():
            if tag in ("insert", "replace"):
                added += [number + 1 for number in range(start, end) if new[number].strip()]
        return added

    def exercise(self, function: str) -> str:
        """The page's chapter's exercise `function`: the stub the learner
        starts from, the hints, each folded, one giving away more than the
        one before, and the solution, folded too."""
        if self.page_chapter is None:
            raise BookError(f"exercise({function!r}) on a page that is no chapter's")
        found = [e for e in self.page_chapter.exercises if e.function == function]
        if not found:
            have = ", ".join(e.function for e in self.page_chapter.exercises) or "none"
            raise BookError(f"exercise({function!r}): chapter {self.page_chapter.number} has "
                            f"no such exercise (it has: {have})")
        exercise = found[0]
        stub = self.code(exercise.file, function, blanked=True)
        parts = [stub, ""]
        names = ["The idea", "The calls", "Nearly the code"]
        for tier, hint in enumerate(exercise.hints):
            title = names[tier] if tier < len(names) else f"Hint {tier + 1}"
            parts += [f'??? tip "Hint {tier + 1}: {title}"', f"    {hint}", ""]
        solution = self.code(exercise.file, function, solution=True)
        parts += ['??? success "Solution"', textwrap.indent(solution, "    "), ""]
        return "\n".join(parts)

    def _blank(self, text: str, path: str, name: str | None, n: int, where: str) -> str:
        """`name` with its body replaced, as `scripts/chapters exercise n` does it."""
        found = [e for e in self.book.chapter(n).exercises if (e.file, e.function) == (path, name)]
        if not found:
            raise BookError(f"{where}: chapter {n} has no exercise for {path}: {name}")
        return chaptertool.blank_function(text, found[0].function,
                                          f"chapter {n} exercise: {found[0].hint}", path)

    # -------------------------------------------------------------- diff

    def diff(self, chapter: int, path: str | None = None) -> str:
        """A diff block with what chapter `chapter` changes (in `path`, a file or a folder/)."""
        self.book.chapter(chapter)
        before = self.book.snapshot(chapter - 1, written=False) if chapter > 1 else {}
        after = self.book.snapshot(chapter)
        if self.page_chapter is not None and self.page_chapter.number == chapter:
            after = self.book.exercise_tree(chapter)  # no solution in plain sight

        def keep(entries: dict[str, chaptertool.Entry]) -> dict[str, chaptertool.Entry]:
            if path is None:
                return entries
            return {p: e for p, e in entries.items()
                    if p == path or (path.endswith("/") and p.startswith(path))}

        text = chaptertool.diff_snapshots(keep(before), keep(after))
        if not text:
            raise BookError(f"diff({chapter}, {path!r}): chapter {chapter} changes nothing there")
        title = f"chapter {chapter}: {path}" if path else f"chapter {chapter}"
        return fence("diff", text, title=title)

    # -------------------------------------------------------- transcript

    def transcript(self, name: str, variant: str | None = None) -> str:
        """A console block with docs/transcripts/NAME.txt (NAME.VARIANT.txt, such
        as the v2 recording of a chapter 5 session), made by scripts/transcripts."""
        known = self.book.try_names()
        if name not in known:
            raise BookError(f"transcript({name!r}): no chapter.json lists {name!r} under \"try\"")
        path = f"{TRANSCRIPTS}/{name}.{variant}.txt" if variant else f"{TRANSCRIPTS}/{name}.txt"
        full = self.book.repo / path
        if not full.is_file():
            how = f" --variant {variant}" if variant else ""
            raise BookError(f"transcript({name!r}): {path} is missing: "
                            f"run `sudo scripts/transcripts{how} {known[name]}`")
        text = chaptertool.render_text(full.read_text(encoding="utf-8"), path,
                                       self.book.last, self.book.last) or ""
        self.shown.add(name)
        return fence("console", text)

    def check_all_transcripts_shown(self) -> None:
        """A chapter page shows every transcript its chapter.json lists."""
        if not self.page_chapter:
            return
        listed = [entry["name"] for entry in self.page_chapter.data.get("try", [])]
        missing = [name for name in listed if name not in self.shown]
        if missing:
            raise BookError(f"chapter {self.page_chapter.number} lists transcripts the page "
                            f"does not show: {', '.join(missing)}")

    # ---------------------------------------------------------- cli_help

    def cli_help(self, *argv: str) -> str:
        """A text block with `dkr ARGV --help`, from the current tree."""
        if argv not in self.book.help_texts:
            env = {**os.environ, "PYTHONPATH": str(self.book.repo), "COLUMNS": "80"}
            proc = subprocess.run([sys.executable, "-m", "dkr", *argv, "--help"], cwd=self.book.repo,
                                  env=env, capture_output=True, text=True, timeout=60)
            if proc.returncode != 0:
                raise BookError(f"cli_help{argv!r}: `dkr {' '.join(argv)} --help` failed "
                                f"({proc.returncode}): {proc.stderr.strip()}")
            self.book.help_texts[argv] = proc.stdout
        command = " ".join(("dkr", *argv, "--help"))
        return fence("console", f"$ {command}\n{self.book.help_texts[argv]}")


# ------------------------------------------------------------------- helpers


def _has_markers(source: chaptertool.Source, last: int) -> bool:
    """Whether a file (or a line of it) is missing from some chapter."""
    marked = source.marked
    if marked is None:
        return False
    if (marked.first, marked.last) != (1, last):
        return True
    return any((line.first, line.last) != (1, last) for line in marked.lines)


def extract(source: str, name: str, path: str = "<source>") -> tuple[str, int]:
    """The source of `name` (dotted for methods) and its first line number.

    A function or class comes with its decorators and the comment lines right
    above it; a module-level (or class-level) assignment of that name too.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise BookError(f"{path}:{error.lineno}: cannot parse: {error.msg}") from None
    scope: list[ast.stmt] = tree.body
    *outer, last = name.split(".")
    for part in outer:
        classes = [n for n in scope if isinstance(n, ast.ClassDef) and n.name == part]
        if not classes:
            raise BookError(f"{path} has no class {part} (looking for {name})")
        scope = classes[0].body
    node = next((n for n in scope if _defines(n, last)), None)
    if node is None:
        raise BookError(f"{path} has no function, class or assignment named {name}")
    lines = source.split("\n")
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
    end = node.end_lineno or node.lineno
    while start > 0 and lines[start - 1].strip().startswith("#"):
        start -= 1
    return textwrap.dedent("\n".join(lines[start:end])), start + 1


def _defines(node: ast.stmt, name: str) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name == name
    if isinstance(node, ast.Assign):
        return any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.target.id == name
    return False


def _cut_lines(text: str, first: int, lines: str | tuple[int, int], where: str) -> tuple[str, int]:
    """Lines A-B (1-based, of the excerpt) of `text`."""
    if isinstance(lines, str):
        match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", lines)
        if not match:
            raise BookError(f"{where}: lines={lines!r} must look like \"3-10\"")
        lo, hi = int(match[1]), int(match[2])
    else:
        lo, hi = lines
    all_lines = text.split("\n")
    if not 1 <= lo <= hi <= len(all_lines):
        raise BookError(f"{where}: lines {lo}-{hi} are outside the excerpt's 1-{len(all_lines)}")
    return textwrap.dedent("\n".join(all_lines[lo - 1:hi])), first + lo - 1


def _language(path: str, text: str) -> str:
    suffix = PurePosixPath(path).suffix
    if suffix in _LANGUAGES:
        return _LANGUAGES[suffix]
    if text.startswith("#!"):
        return "python" if "python" in text.split("\n", 1)[0] else "sh"
    return "text"


def fence(language: str, text: str, title: str | None = None, linenums: int | None = None,
          highlight: list[int] | None = None) -> str:
    """A fenced block, its fence longer than any run of backticks inside;
    `highlight`: line numbers (from 1, whatever `linenums` starts at) to mark."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    marks = "`" * max(3, longest + 1)
    options = [language]
    if title:
        options.append(f'title="{title}"')
    if linenums:
        options.append(f'linenums="{linenums}"')
    if highlight:
        options.append(f'hl_lines="{" ".join(map(str, highlight))}"')
    return f"{marks} {' '.join(options)}\n{text.rstrip(chr(10))}\n{marks}"
