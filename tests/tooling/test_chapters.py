"""Tests for scripts/chaptertool.py: markers, snapshots, diff, branches, exercises, check.

Synthetic trees live in tmp_path; the real repo is only read, never written
(its git refs are not touched).  No root needed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import chaptertool as ct  # noqa: E402

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_NOSYSTEM": "1"}


# ------------------------------------------------------------------ helpers


def make_repo(root: Path, files: dict[str, str | bytes], chapters: int = 3,
              exercises: dict[int, list[dict[str, str]]] | None = None) -> Path:
    """A tiny synthetic repo: chapters/0N-cN/chapter.json plus the given files."""
    for n in range(1, chapters + 1):
        data = {"number": n, "slug": f"c{n}", "title": f"Title {n}", "tag": f"ch{n:02d}",
                "exercise": (exercises or {}).get(n, []), "try": "ignored"}
        write(root / f"chapters/{n:02d}-c{n}/chapter.json", json.dumps(data))
    for path, content in files.items():
        write(root / path, content)
    return root


def write(path: Path, content: str | bytes) -> None:
    """Create a file and its parents."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def git(repo: Path, *args: str) -> str:
    """Run git in a synthetic repo with a test identity."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV)
    env["HOME"] = str(repo.parent)  # no user config leaks in
    proc = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True)
    return proc.stdout


def git_repo(repo: Path) -> Path:
    """git init + commit everything on branch main."""
    git(repo, "init", "-q")
    git(repo, "symbolic-ref", "HEAD", "refs/heads/main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    return repo


def render(text: str, path: str = "f.py", last: int = 3) -> dict[int, str | None]:
    """A file's text for every chapter 1..last."""
    marked = ct.parse_markers(text, path, last)
    return {n: marked.render(n) for n in range(1, last + 1)}


# ------------------------------------------------------------------ markers


def test_line_suffix_and_range():
    text = "a = 1\nb = 2  # chapter: 2\nc = 3\t# chapter: 1-3\nd = 4 #chapter:3\n"
    out = render(text)
    assert out[1] == "a = 1\nc = 3\n"
    assert out[2] == "a = 1\nb = 2\nc = 3\n"
    assert out[3] == "a = 1\nb = 2\nc = 3\nd = 4\n"


def test_retired_code_is_commented_out_in_the_main_tree():
    text = ("def f():\n"
            "    # chapter: 1-2 {\n"
            "    # old()\n"
            "    #     nested = 1\n"
            "\n"
            "    # }\n"
            "    new()  # chapter: 3\n")
    out = render(text)
    assert out[1] == out[2] == "def f():\n    old()\n        nested = 1\n\n"
    assert out[3] == "def f():\n    new()\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = 1  # chapter: 1-2\n", "commented out in a block"),
        ("# chapter: 1-2 {\nx = 1\n# }\n", "must be commented out"),
        ("# chapter: 1-2 {\n# x = 1  # chapter: 2\n# }\n", "no chapter markers inside"),
    ],
)
def test_retired_code_that_would_run_is_an_error(text, message):
    with pytest.raises(ct.ChapterError, match=message):
        render(text)


def test_block_with_indentation_and_nested_suffix():
    text = ("def f():\n"
            "    x = 1\n"
            "    # chapter: 2 {\n"
            "    if x:\n"
            "        x += 1\n"
            "        x += 2  # chapter: 3\n"
            "    # }\n"
            "    return x\n")
    out = render(text)
    assert out[1] == "def f():\n    x = 1\n    return x\n"
    assert out[2] == "def f():\n    x = 1\n    if x:\n        x += 1\n    return x\n"
    assert out[3] == "def f():\n    x = 1\n    if x:\n        x += 1\n        x += 2\n    return x\n"


def test_block_range_ends():
    out = render("a\n# chapter: 1-2 {\n# b\n# }\nc\n")
    assert out == {1: "a\nb\nc\n", 2: "a\nb\nc\n", 3: "a\nc\n"}


def test_header_and_header_range():
    assert render("# chapter: 2\nx = 1\n") == {1: None, 2: "x = 1\n", 3: "x = 1\n"}
    assert render("# chapter: 1-2\nx = 1\n") == {1: "x = 1\n", 2: "x = 1\n", 3: None}


def test_header_after_shebang_and_inherited_end():
    text = "#!/bin/sh\n# chapter: 1-2\necho a\necho b  # chapter: 2\n"
    out = render(text, "run.sh")
    assert out == {1: "#!/bin/sh\necho a\n", 2: "#!/bin/sh\necho a\necho b\n", 3: None}


def test_markdown_forms_and_fences():
    text = ("<!-- chapter: 2 -->\n"
            "# Title\n"
            "# chapter: 3 is plain text in markdown\n"
            "line two <!-- chapter: 3 -->\n"
            "<!-- chapter: 2-2 { -->\n"
            "only two\n"
            "<!-- } -->\n"
            "```\n"
            "<!-- chapter: 99 -->\n"
            "```\n")
    out = render(text, "docs/x.md")
    assert out[1] is None
    assert out[2] == "# Title\n# chapter: 3 is plain text in markdown\nonly two\n```\n<!-- chapter: 99 -->\n```\n"
    assert out[3] == "# Title\n# chapter: 3 is plain text in markdown\nline two\n```\n<!-- chapter: 99 -->\n```\n"


def test_json_and_unknown_text_untouched():
    text = '{"a": "# chapter: x"}\n'
    assert render(text, "x.json") == {1: text, 2: text, 3: text}


def test_crlf_and_missing_final_newline_kept():
    out = render("a\r\nb  # chapter: 2\r\nc")
    assert out[1] == "a\r\nc"
    assert out[2] == "a\r\nb\r\nc"


@pytest.mark.parametrize("path, text, line, words", [
    ("f.py", "x = 1  # chapter: two\n", 1, "malformed"),
    ("f.py", "# chapter: 0\n", 1, "out of range"),
    ("f.py", "# chapter: 4\n", 1, "out of range"),
    ("f.py", "x\ny  # chapter: 1-9\n", 2, "out of range"),
    ("f.py", "# chapter: 3-2\n", 1, "empty"),
    ("f.py", "x\n# chapter: 2 {\ny\n", 2, "never closed"),
    ("f.py", "x\n# }\n", 2, "no open"),
    ("f.py", "# chapter: 2 {\n# chapter: 3 {\n# }\n# }\n", 2, "nest"),
    ("f.py", "x\n# chapter: 2\n", 2, "first line"),
    ("f.py", "#!/bin/sh\nx\n# chapter: 2\n", 3, "first line"),
    ("f.py", "# chapter: 2-3\nx  # chapter: 1\n", 2, "outside"),
    ("f.py", "# chapter: 2-3 {\nx  # chapter: 1\n# }\n", 2, "outside"),
    ("f.py", "# chapter: 2\n# chapter: 1 {\n# }\n", 2, "outside"),
    ("f.py", "x  # chapter: 1  # chapter: 2\n", 1, "malformed"),
    ("f.py", "s = '# chapter: 2\\n'\n", 1, "malformed"),
    ("f.py", "# chapter 2: no colon is fine\n# chapter:2 x\n", 2, "malformed"),
    ("d/x.md", "text <!-- chapter: x -->\n", 1, "malformed"),
    ("d/x.md", "a\n<!-- chapter: 2 -->\n", 2, "first line"),
    ("d/x.md", "<!-- chapter: 2 { -->\n", 1, "never closed"),
    ("d/x.md", "<!-- } -->\n", 1, "no open"),
])
def test_malformed_markers_report_file_and_line(path, text, line, words):
    with pytest.raises(ct.ChapterError) as err:
        ct.parse_markers(text, path, 3)
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert words in str(err.value)


def test_tool_sources_contain_no_markers():
    for name in ("scripts/chaptertool.py", "scripts/chapters", "chapters/README.md"):
        ct.parse_markers((REPO / name).read_text(encoding="utf-8"), name, 10)


# ---------------------------------------------------------------- snapshots

TREE: dict[str, str | bytes] = {
    "dkr/__init__.py": "",
    "dkr/core.py": "A = 1\nB = 2  # chapter: 2\n",
    "dkr/late.py": "# chapter: 3\nLATE = True\n",
    "dkr/early.py": "# chapter: 1-1\nEARLY = True\n",
    ".ci/run.sh": "x  # chapter: bogus markers are never parsed here\n",
    "tests/tooling/test_t.py": "bogus  # chapter: nope\n",
    "tests/test_core.py": "def test_a():\n    pass\n",
    "blob.bin": b"\x00\xff\xfe# chapter: 9\n",
    "__pycache__/x.pyc": b"junk",
    "site/index.html": "built",
    "docs/site/page.md": "<!-- chapter: 2 -->\nkept\n",
}


def test_snapshot_file_selection(tmp_path):
    repo = make_repo(tmp_path / "r", TREE)
    files = {n: ct.snapshot_files(repo, n) for n in (1, 2, 3)}
    common = {"dkr/__init__.py", "dkr/core.py", "tests/test_core.py", "blob.bin", "chapters/01-c1/chapter.json"}
    assert set(files[1]) == common | {"dkr/early.py"}
    assert set(files[2]) == common | {"chapters/02-c2/chapter.json", "docs/site/page.md"}
    assert set(files[3]) == set(files[2]) | {"dkr/late.py", "chapters/03-c3/chapter.json"}
    assert files[1]["dkr/core.py"] == "A = 1\n"
    assert files[3]["dkr/late.py"] == "LATE = True\n"
    assert files[2]["blob.bin"] == TREE["blob.bin"]


def test_chapter_source(tmp_path):
    repo = make_repo(tmp_path / "r", TREE)
    assert ct.chapter_source(repo, 2, "dkr/core.py") == "A = 1\nB = 2\n"
    for path in ("dkr/late.py", ".ci/run.sh", "missing.py"):
        with pytest.raises(ct.ChapterError, match="not in chapter 2"):
            ct.chapter_source(repo, 2, path)
    with pytest.raises(ct.ChapterError, match="out of range"):
        ct.chapter_source(repo, 4, "dkr/core.py")


def test_write_snapshot_keeps_modes_binaries_symlinks(tmp_path):
    repo = make_repo(tmp_path / "r", {**TREE, "bin/tool": "#!/bin/sh\n# chapter: 2\necho hi  # chapter: 3\n"})
    os.chmod(repo / "bin/tool", 0o755)
    os.symlink("core.py", repo / "dkr/link.py")
    dest = tmp_path / "out"
    ct.write_snapshot(repo, 3, dest)
    assert os.access(dest / "bin/tool", os.X_OK)
    assert (dest / "bin/tool").read_text() == "#!/bin/sh\necho hi\n"
    assert not os.access(dest / "dkr/core.py", os.X_OK)
    assert (dest / "blob.bin").read_bytes() == TREE["blob.bin"]
    assert os.readlink(dest / "dkr/link.py") == "core.py"
    assert not (dest / ".ci").exists() and not (dest / "tests/tooling").exists()
    with pytest.raises(ct.ChapterError, match="not an empty directory"):
        ct.write_snapshot(repo, 3, dest)


@needs_git
def test_git_file_listing(tmp_path):
    repo = make_repo(tmp_path / "r", {".gitignore": "ignored.txt\n", "tracked.py": "x\n", "gone.py": "y\n"})
    git_repo(repo)
    write(repo / "untracked.py", "z\n")
    write(repo / "ignored.txt", "no\n")
    (repo / "gone.py").unlink()
    files = ct.list_files(repo)
    assert "untracked.py" in files and "tracked.py" in files
    assert "ignored.txt" not in files and "gone.py" not in files


def test_chapter_json_validation(tmp_path):
    repo = make_repo(tmp_path / "r", {})
    path = repo / "chapters/02-c2/chapter.json"
    good = json.loads(path.read_text())
    bad_cases = [({**good, "number": 3}, '"number"'), ({**good, "tag": "ch2"}, '"tag"'),
                 ({**good, "exercise": [{"file": "a.py", "function": "f"}]}, "hints"),
                 ({**good, "exercise": [{"file": "a.py", "function": "f", "hints": []}]}, "hints")]
    for data, words in bad_cases:
        path.write_text(json.dumps(data))
        with pytest.raises(ct.ChapterError, match=words):
            ct.load_chapters(repo)
    path.write_text("{\n  oops\n}")
    with pytest.raises(ct.ChapterError, match=r"chapters/02-c2/chapter.json:2: invalid JSON"):
        ct.load_chapters(repo)


# --------------------------------------------------------------------- diff

DIFF_TREE: dict[str, str | bytes] = {
    "a.py": "one\ntwo  # chapter: 2\nthree\n",
    "b.py": "# chapter: 2\nnew file\n",
    "c.py": "# chapter: 1-1\nold file\n",
    "same.py": "unchanged\n",
    "d.txt": "no newline  # chapter: 2",
}


def test_diff_shows_only_the_chapter_change(tmp_path):
    repo = make_repo(tmp_path / "r", DIFF_TREE)
    diff = ct.diff_chapter(repo, 2)
    assert "same.py" not in diff and "a/chapters/01" not in diff
    assert "diff --git a/b.py b/b.py\nnew file mode 100644\n--- /dev/null\n+++ b/b.py\n" in diff
    assert "deleted file mode 100644\n--- a/c.py\n+++ /dev/null\n" in diff
    assert "+two\n" in diff and "-one" not in diff
    assert "+no newline\n\\ No newline at end of file\n" in diff
    assert "+++ b/chapters/02-c2/chapter.json" in diff
    first = ct.diff_chapter(repo, 1)
    assert "new file mode" in first and "--- a/" not in first


@needs_git
def test_diff_applies_with_git_apply(tmp_path):
    repo = make_repo(tmp_path / "r", DIFF_TREE)
    os.chmod(repo / "same.py", 0o755)
    tree = tmp_path / "tree"
    ct.write_snapshot(repo, 1, tree)
    patch = tmp_path / "ch2.patch"
    patch.write_text(ct.diff_chapter(repo, 2))
    subprocess.run(["git", "apply", str(patch)], cwd=tree, check=True)
    expected = ct.snapshot_files(repo, 2)
    got = {p.relative_to(tree).as_posix(): p.read_text() for p in tree.rglob("*") if p.is_file()}
    assert got == expected


# ----------------------------------------------------------------- branches


def git_numstat(text: str) -> dict[str, tuple[int, int]]:
    """Parse `git diff --numstat`: path -> (added, deleted)."""
    rows = (line.split("\t") for line in text.splitlines())
    return {path: (int(added), int(deleted)) for added, deleted, path in rows}


def diff_numstat(diff: str) -> dict[str, tuple[int, int]]:
    """Count added/deleted lines per file in our unified diff."""
    counts: dict[str, list[int]] = {}
    for line in diff.splitlines():
        if line.startswith("diff --git a/"):
            current = counts.setdefault(line.split(" ")[2][2:], [0, 0])
        elif line.startswith(("+++ ", "--- ")):
            continue
        elif line.startswith("+"):
            current[0] += 1
        elif line.startswith("-"):
            current[1] += 1
    return {path: (added, deleted) for path, (added, deleted) in counts.items()}


@needs_git
def test_branches_linear_history_and_idempotent(tmp_path):
    repo = git_repo(make_repo(tmp_path / "r", {**DIFF_TREE, "run.sh": "echo  # chapter: 3\n"}))
    os.chmod(repo / "run.sh", 0o755)
    write(repo / "dirty.py", "untracked work\n")
    index_before = (repo / ".git/index").read_bytes()
    status_before = git(repo, "status", "--porcelain")
    made = ct.make_branches(repo)
    assert [c.tag for c, _ in made] == ["ch01", "ch02", "ch03"]
    assert git(repo, "rev-list", "--count", "ch03").strip() == "3"
    assert git(repo, "rev-parse", "refs/tags/ch02").strip() == made[1][1]
    assert git(repo, "log", "-1", "--format=%s", "ch02").strip() == "Chapter 2: Title 2"
    # git's view of chapter 2's change equals our diff of the snapshots
    ours = ct.diff_snapshots(ct.snapshot_entries(repo, 1), ct.snapshot_entries(repo, 2))
    assert git_numstat(git(repo, "diff", "--numstat", "ch01", "ch02")) == diff_numstat(ours)
    assert git(repo, "show", "ch02:a.py") == "one\ntwo\nthree\n"
    assert "dirty.py" in git(repo, "ls-tree", "-r", "--name-only", "ch03")
    assert git(repo, "ls-tree", "ch03", "run.sh").startswith("100755")
    assert "warning" not in subprocess.run(["git", "diff", "ch02", "ch03"], cwd=repo,
                                           capture_output=True, text=True).stderr
    # user state untouched, rerun identical
    assert (repo / ".git/index").read_bytes() == index_before
    assert git(repo, "status", "--porcelain") == status_before
    assert git(repo, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert ct.make_branches(repo) == made


@needs_git
def test_branches_refuses_on_chapter_branch(tmp_path):
    repo = git_repo(make_repo(tmp_path / "r", {"a.py": "a\n"}))
    ct.make_branches(repo)
    git(repo, "checkout", "-q", "refs/heads/ch02")  # detached: allowed
    git(repo, "checkout", "-q", "ch02")
    with pytest.raises(ct.ChapterError, match="current branch is ch02"):
        ct.make_branches(repo)


# ----------------------------------------------------------------- exercise

MODULE = '''\
"""A module."""
import functools


def plain(x):
    """Double x."""
    y = x * 2  # the answer
    # more solution
    return y


class Box:
    @functools.lru_cache(maxsize=None)
    def method(self,
               value):
        """Store value."""
        self.value = value
        return value

    def other(self):
        return 1


def one_liner(x): return x
'''


def load_module(path: Path):
    """Import a file as a throwaway module."""
    spec = importlib.util.spec_from_file_location("exercise_mod", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exercise_blanks_function_and_method(tmp_path):
    exercises = {2: [{"file": "dkr/m.py", "function": "plain", "hints": ['use "*"', "more"]},
                     {"file": "dkr/m.py", "function": "Box.method", "hints": ["set it"]},
                     {"file": "dkr/m.py", "function": "one_liner", "hints": ["h"]}]}
    repo = make_repo(tmp_path / "r", {"dkr/m.py": MODULE}, exercises=exercises)
    dest = tmp_path / "ex"
    ct.make_exercise(repo, 2, dest)
    text = (dest / "dkr/m.py").read_text()
    assert "solution" not in text and "x * 2" not in text and "self.value" not in text
    module = load_module(dest / "dkr/m.py")
    with pytest.raises(NotImplementedError, match='chapter 2 exercise: use "\\*"'):
        module.plain(1)
    assert module.plain.__doc__ == "Double x."
    with pytest.raises(NotImplementedError, match="chapter 2 exercise: set it"):
        module.Box().method(3)
    assert module.Box().other() == 1
    with pytest.raises(NotImplementedError):
        module.one_liner(1)
    assert "@functools.lru_cache(maxsize=None)" in text


def test_blank_docstring_only_and_missing():
    src = 'def f():\n    """Doc only."""\n\ndef g(): "doc"\n'
    out = ct.blank_function(ct.blank_function(src, "f", "m"), "g", "n")
    assert '    """Doc only."""\n    raise NotImplementedError("m")\n' in out
    assert 'def g(): "doc"; raise NotImplementedError("n")' in out
    with pytest.raises(ct.ChapterError, match="no function or method named Nope.f"):
        ct.blank_function(src, "Nope.f", "m", "x.py")


def test_exercise_missing_function_writes_nothing(tmp_path):
    exercises = {1: [{"file": "dkr/m.py", "function": "absent", "hints": ["h"]}]}
    repo = make_repo(tmp_path / "r", {"dkr/m.py": MODULE}, exercises=exercises)
    with pytest.raises(ct.ChapterError, match="dkr/m.py: no function"):
        ct.make_exercise(repo, 1, tmp_path / "ex")
    assert not (tmp_path / "ex").exists()


# -------------------------------------------------------------------- check


def test_check_passes_and_fails(tmp_path, capfd):
    test = ("def test_x():\n    # chapter: 1-1 {\n    # assert 1 + 1 == 2\n    # }\n"
            "    assert 1 + 1 == 3  # chapter: 2\n")
    repo = make_repo(tmp_path / "r", {"tests/test_x.py": test})
    for n, want_ok in ((1, True), (2, False)):
        tree = tmp_path / f"t{n}"
        ct.write_snapshot(repo, n, tree)
        status = ct.run_check(repo, n, tree, ["-p", "no:cacheprovider"])
        assert (status == 0) == want_ok
    out = capfd.readouterr().out
    assert "chapter 1: all tests pass" in out and "chapter 2: tests fail" in out
    with pytest.raises(ct.ChapterError, match="no tests directory"):
        ct.run_check(repo, 1, tmp_path)


# ---------------------------------------------------------------------- CLI


def test_cli_errors_are_one_line_with_status_2(tmp_path, capsys):
    repo = make_repo(tmp_path / "r", {"bad.py": "x\n# chapter: 2\n"})
    assert ct.main(["--repo", str(repo), "snapshot", "1", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bad.py:2: ") and err.count("\n") == 1


def test_cli_list_diff_and_help(tmp_path, capsys):
    repo = make_repo(tmp_path / "r", DIFF_TREE)
    assert ct.main(["list", "--repo", str(repo)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == " 2  ch02  Title 2"
    assert ct.main(["--repo", str(repo), "diff", "2"]) == 0
    assert "+++ b/b.py" in capsys.readouterr().out
    for cmd in ("snapshot", "diff", "branches", "exercise", "check", "list"):
        with pytest.raises(SystemExit) as done:
            ct.main([cmd, "--help"])
        assert done.value.code == 0
    assert "N DIR" in capsys.readouterr().out


# ---------------------------------------------------------------- real repo


def real_chapters() -> list[ct.Chapter]:
    """The real repo's chapters (skip the test while there are none yet)."""
    chapters = ct.load_chapters(REPO)
    if not chapters:
        pytest.skip("the repo has no chapters/NN-*/chapter.json yet")
    return chapters


def test_real_repo_markers_parse_and_snapshots_build():
    chapters = real_chapters()
    assert ct.validate_tree(REPO) > 0
    sources = ct.load_sources(REPO, chapters[-1].number)
    for chapter in chapters:
        files = ct.render_sources(sources, chapter.number)
        assert chapter.directory + "/chapter.json" in files
        assert not any(p.startswith(ct.EXCLUDED_PREFIXES) for p in files)
        later = [c.directory for c in chapters if c.number > chapter.number]
        assert not any(p.startswith(d + "/") for p in files for d in later)
        for exercise in chapter.exercises:
            assert exercise.file in files, f"{chapter.tag}: exercise file {exercise.file} missing"


def test_real_repo_cli_list():
    chapters = real_chapters()
    proc = subprocess.run([sys.executable, str(REPO / "scripts/chapters"), "list"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == len(chapters)


def test_real_repo_exercises_blank():
    for chapter in real_chapters():
        entries, exercises = ct.exercise_entries(REPO, chapter.number)
        for exercise in exercises:
            assert f"chapter {chapter.number} exercise: " in entries[exercise.file].data


def test_a_long_hint_is_split_over_lines_that_fit_the_page():
    hint = "chapter 3 exercise: " + "a question with many words in it, " * 6 + 'and "quotes"'
    src = "class A:\n    def f(self):\n        return 1\n"
    out = ct.blank_function(src, "A.f", hint)
    assert max(len(line) for line in out.splitlines()) <= ct.LINE_LENGTH
    namespace: dict = {}
    exec(out, namespace)
    with pytest.raises(NotImplementedError) as raised:
        namespace["A"]().f()
    assert str(raised.value) == hint
