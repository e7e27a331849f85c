"""The standalone shell hooks as programs: lint, one shared section, and their awk renderer.

The renderer (``HR_RENDER_AWK``, shared by every shell hook) must produce, for any bytes, the
very body ``hookrelay.core.source_commit`` renders and the same story verdict as
``hookrelay.core.messages``; it is run here on its own, under every awk this machine has.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hookrelay.core.source_commit import ApiVersion, render
from hookrelay.hooks.commit_text import names_story, read_git_commit, source_commit
from tests.conftest import real_commit_messages

HOOKS = Path(__file__).parents[2] / "hooks"
SCRIPTS = [
    HOOKS / "git" / "post-receive",
    HOOKS / "git" / "post-commit",
    HOOKS / "svn" / "post-commit",
]
COMMON = re.compile(r"# --- hookrelay common: begin.*# --- hookrelay common: end\n", re.S)
AWK_PROGRAM = re.search(r"HR_RENDER_AWK='(.*?)'\n", SCRIPTS[0].read_text(), re.S)
# Every awk this machine has (Debian's default is mawk; gawk where installed), at least "awk".
AWKS = [name for name in ("gawk", "mawk", "original-awk", "busybox") if shutil.which(name)]
AWKS = AWKS or ["awk"]
URL_TEMPLATE = "https://git.example.com/c/%H?a&b"


def test_every_script_shares_one_common_section() -> None:
    """The three scripts carry the same common section; git's two hooks are one file."""
    sections = [COMMON.search(script.read_text()) for script in SCRIPTS]
    assert all(sections)
    assert len({section.group(0) for section in sections if section}) == 1
    assert SCRIPTS[0].read_bytes() == SCRIPTS[1].read_bytes()


@pytest.mark.parametrize("script", SCRIPTS, ids=[f"{s.parent.name}-{s.name}" for s in SCRIPTS])
def test_script_is_clean_posix_sh(script: Path) -> None:
    """Each script is executable, parses under dash, and passes shellcheck -s sh."""
    assert os.access(script, os.X_OK)
    assert subprocess.run(["dash", "-n", str(script)], check=False).returncode == 0
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed; CI installs it")
    result = subprocess.run(
        ["shellcheck", "-s", "sh", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def commit_object(author: bytes, message: bytes, encoding: bytes | None = None) -> bytes:
    """A raw git commit object around ``author`` and ``message``."""
    headers = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
    headers += b"author " + author + b" <a@example.com> 1700000000 +0000\n"
    headers += b"committer C <c@example.com> 1700000000 +0000\n"
    if encoding is not None:
        headers += b"encoding " + encoding + b"\n"
    return headers + b"\n" + message


def run_renderer(
    awk: str, objects: list[tuple[str, bytes]], version: ApiVersion, tmp_path: Path
) -> tuple[dict[str, bytes], dict[str, bool]]:
    """Feed ``(commit id, raw object)`` pairs to the shell renderer as git cat-file --batch does."""
    assert AWK_PROGRAM is not None
    stream = b"".join(
        b"%s commit %d e%d.%s\n" % (cid.encode(), len(raw), n, cid.encode()) + raw + b"\n"
        for n, (cid, raw) in enumerate(objects)
    )
    out = tmp_path / f"out-{awk}-{version.value}"
    out.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "LC_ALL": "C",
        "HR_OUT": str(out),
        "HR_FORMAT": "xml" if version is ApiVersion.V3 else "json",
        "HR_COMMIT_URL": URL_TEMPLATE,
    }
    argv = [awk, "awk", AWK_PROGRAM.group(1)] if awk == "busybox" else [awk, AWK_PROGRAM.group(1)]
    result = subprocess.run(argv, input=stream, capture_output=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    verdicts = dict(line.split() for line in result.stdout.decode().splitlines())
    bodies = {entry.split(".", 1)[1]: (out / entry).read_bytes() for entry in verdicts}
    stories = {entry.split(".", 1)[1]: verdict == "story" for entry, verdict in verdicts.items()}
    return bodies, stories


def assert_renders_like_the_core(
    awk: str, objects: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    """The shell renderer's bodies and verdicts equal the core's, for v3 and v5."""
    for version in ApiVersion:
        bodies, stories = run_renderer(awk, objects, version, tmp_path)
        for commit_id, raw in objects:
            commit = source_commit(commit_id, read_git_commit(raw), URL_TEMPLATE)
            assert bodies[commit_id] == render(commit, version), raw
            assert stories[commit_id] == names_story(commit), raw


# Byte sequences where decoders disagree unless they follow the same rule (Unicode's "maximal
# subpart" replacement, which Python's UTF-8 decoder implements).
SEQUENCES = {
    "lone-continuation": b"\x80",
    "overlong-slash": b"\xc0\xaf",
    "overlong-3": b"\xe0\x80\xaf",
    "surrogate": b"\xed\xa0\x80",
    "truncated-3": b"\xe2\x82",
    "truncated-4": b"\xf0\x9f\x9a",
    "above-u10ffff": b"\xf4\x90\x80\x80",
    "f5-lead": b"\xf5\x80\x80\x80",
    "bom-and-nonchars": "\ufeff\ufffe\uffff".encode("utf-8", "surrogatepass"),
    "c0-controls": bytes(range(1, 32)),
    "del-and-c1": b"\x7f\xc2\x80\xc2\x85\xc2\x9f",
    "xml-specials": b"& < > \" ' ]]> &amp;",
    "json-specials": b'\\ " \\n \\u0000 /',
    "unicode-spaces": "[\u2003#1\u00a0Fixes\u3000]".encode(),
    "story-across-lines": b"[Finishes\r\n#12345]",
    "crlf-tail": b"text\r\n\r\n\r\n",
    "huge-id": b"[#" + b"9" * 4301 + b"]",
    "big-id-ok": b"[#" + b"9" * 4300 + b"]",
    "bracket-storm": b"[" * 5000 + b"#1]",
}


@pytest.mark.parametrize("awk", AWKS)
@pytest.mark.parametrize("sequence", list(SEQUENCES), ids=list(SEQUENCES))
def test_renderer_matches_the_core_on_edge_sequences(
    awk: str, sequence: str, tmp_path: Path
) -> None:
    """Each edge byte sequence, in a message and an author name, renders as the core renders it."""
    raw = SEQUENCES[sequence]
    objects = [
        ("a" * 40, commit_object(b"Ada", b"[#1] " + raw + b" end\n")),
        ("b" * 40, commit_object(raw.replace(b"\n", b" "), raw)),
        ("c" * 40, commit_object(b"Jos\xe9", b"[#2] caf\xe9 " + raw, encoding=b"ISO-8859-1")),
    ]
    assert_renders_like_the_core(awk, objects, tmp_path)


@pytest.mark.parametrize("awk", AWKS)
def test_renderer_matches_the_core_on_random_bytes(awk: str, tmp_path: Path) -> None:
    """Two thousand random messages and names, biased to the awkward bytes, render as the core."""
    rng = random.Random(20250101)
    pieces = (
        [bytes([b]) for b in range(1, 256)]
        + [*SEQUENCES.values()][:15]
        + [b"[", b"]", b"#", b"#7", b"[#123]", b"Finishes", b"\r\n", b"&", b",", b" "]
    )
    objects = []
    for number in range(2000):
        message = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        author = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 8))).replace(b"\n", b"")
        encoding = rng.choice([None, None, b"UTF-8", b"latin1", b"x-unknown"])
        objects.append((f"{number:040x}", commit_object(author, message, encoding)))
    assert_renders_like_the_core(awk, objects, tmp_path)


@pytest.mark.parametrize("awk", AWKS)
def test_renderer_agrees_with_the_parser_on_real_messages(awk: str, tmp_path: Path) -> None:
    """On 3,702 real Cloud Foundry commit messages, the shell's story verdicts equal the parser's."""
    messages = real_commit_messages()
    objects = [
        (f"{n:040x}", commit_object(m["author"].encode(), m["message"].encode()))
        for n, m in enumerate(messages)
    ]
    assert_renders_like_the_core(awk, objects, tmp_path)
