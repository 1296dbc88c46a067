"""Tests for the book: `mkdocs build --strict` passes, every chapter has its
page, nothing is loaded from another host, and the hook finds code by name
(so that a rename breaks the build). No root needed.
"""

from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import chaptertool  # noqa: E402

HAVE_MKDOCS = all(importlib.util.find_spec(name) for name in ("mkdocs", "material", "jinja2"))
if not HAVE_MKDOCS:
    if os.environ.get("DKR_REQUIRE_ROOT") == "1":
        raise RuntimeError("mkdocs-material and jinja2 are not installed, and DKR_REQUIRE_ROOT=1: "
                           "run the tests with scripts/test, which installs requirements-dev.txt")
    pytest.skip("mkdocs-material is not installed (scripts/test installs it)", allow_module_level=True)

# Tags whose attribute the browser loads by itself.
ASSET_ATTRIBUTES = {"script": "src", "link": "href", "img": "src", "iframe": "src",
                    "source": "src", "video": "src", "audio": "src", "embed": "src", "object": "data"}
# <link rel=...> values that name a page rather than load something.
NOT_LOADED = {"canonical", "alternate", "prev", "next", "author", "license", "me"}
REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The book, built once for this module with --strict."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q",
                           "-f", str(REPO / "mkdocs.yml"), "-d", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    assert "WARNING" not in proc.stderr, proc.stderr
    return out


def built_page(site: Path, source: str) -> Path:
    """Where a docs/ page lands (the book uses plain .html URLs)."""
    relative = Path(source).relative_to("docs").with_suffix(".html")
    return site / relative


def test_every_chapter_has_its_page(site: Path):
    chapters = chaptertool.load_chapters(REPO)
    assert chapters
    for chapter in chapters:
        assert chapter.page, f"{chapter.directory}/chapter.json has no \"page\""
        page = built_page(site, chapter.page)
        assert page.is_file(), f"chapter {chapter.number}: {page} was not built"
        text = page_text(page)
        assert chapter.title in text
        for entry in chapter.data.get("try", []):  # each transcript is shown, its commands included
            transcript = (REPO / "docs/transcripts" / f"{entry['name']}.txt").read_text(encoding="utf-8")
            commands = [line for line in transcript.splitlines() if line.startswith("$ ")]
            assert commands and all(command in text for command in commands), entry["name"]


def page_text(page: Path) -> str:
    """A built page's text, without tags (code is split into highlighting spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))


def test_start_workshop_and_reference_pages(site: Path):
    for name in ("index.html", "workshop.html", "reference/cli.html"):
        assert (site / name).is_file(), name
    assert "usage: dkr run" in page_text(site / "reference/cli.html")


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.remote: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = ASSET_ATTRIBUTES.get(tag)
        if tag == "link" and (dict(attrs).get("rel") or "") in NOT_LOADED:
            return
        for name, value in attrs:
            if value and (name == wanted or name == "srcset") and REMOTE.match(value):
                self.remote.append(f"<{tag} {name}={value!r}>")


def test_nothing_is_loaded_from_another_host(site: Path):
    found = []
    for page in site.rglob("*.html"):
        parser = _Assets()
        parser.feed(page.read_text(encoding="utf-8"))
        found += [f"{page.relative_to(site)}: {tag}" for tag in parser.remote]
    for sheet in site.rglob("*.css"):
        text = sheet.read_text(encoding="utf-8", errors="replace")
        found += [f"{sheet.relative_to(site)}: {m}" for m in re.findall(r"@import[^;]*|url\(\s*['\"]?(?:https?:)?//[^)]*\)", text)]
    assert not found, "remote assets: " + "; ".join(found)


def test_hooks_and_transcript_sources_are_not_published(site: Path):
    assert not (site / "hooks").exists()
    assert not (site / "transcripts").exists()


# The hook's pieces, without a build -------------------------------------------

@pytest.fixture(scope="module")
def book():
    spec = importlib.util.spec_from_file_location("book_hook", REPO / "docs/hooks/book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOURCE = '''
X = 1

# about f
@decorator
def f(a):
    """Doc."""
    return a


class C:
    LIMIT = 3

    def m(self):
        return 1
'''


def test_extract_by_name(book):
    text, first = book.extract(SOURCE, "f")
    assert text.startswith("# about f\n@decorator\ndef f(a):") and text.endswith("return a")
    assert first == 4
    assert book.extract(SOURCE, "C.m") == ("def m(self):\n    return 1", 14)
    assert book.extract(SOURCE, "C.LIMIT")[0] == "LIMIT = 3"
    assert book.extract(SOURCE, "X") == ("X = 1", 2)


@pytest.mark.parametrize("name", ["g", "C.n", "D.m", "f.x"])
def test_a_missing_name_fails_the_build(book, name):
    with pytest.raises(book.BookError, match="has no"):
        book.extract(SOURCE, name)


def test_fence_outlasts_backticks_inside(book):
    block = book.fence("markdown", "```\ncode\n```", title="x.md")
    assert block.startswith('```` markdown title="x.md"\n') and block.endswith("\n````")


def test_indented_calls_keep_their_indentation(book):
    text = book._indent_calls('??? note\n    {{ diff(3, "dkr/") }}\n{{ code("a.py") }}\n')
    assert '    {{ (diff(3, "dkr/")) | indent(4, blank=True) }}' in text
    assert '\n{{ code("a.py") }}\n' in text


def test_a_renamed_function_breaks_the_page(book, tmp_path: Path):
    """Render a page that names a function the code does not have."""
    tools = book.PageTools(book.Book(REPO), None)
    with pytest.raises(book.BookError, match="no function, class or assignment named no_such_function"):
        tools.code("dkr/container.py", "no_such_function")
    with pytest.raises(book.BookError, match="does not exist"):
        tools.code("dkr/no_such_module.py")
    with pytest.raises(book.BookError, match="no chapter.json lists"):
        tools.transcript("no-such-transcript")
