#!/usr/bin/env python3
"""Check that every link to a heading in the Markdown docs lands on a heading that exists.

    scripts/check-anchors.py [FILE.md ...]      (default: README.md and docs/*.md)

Checks links within a file, `[text](#anchor)`, and to another Markdown file of the
repository, `[text](docs/output.md#anchor)`. Anchors are computed with GitHub's rules: the
heading as rendered (code spans, links and emphasis reduced to their text), lower-cased, every
character dropped that is not a letter, mark, digit, connector punctuation (`_`), space or
hyphen, each space made a hyphen; a repeated heading gets -1, -2, ... `<a name=...>` and
`id="..."` anchors count too. Headings and links inside fenced code blocks are ignored.

Prints each broken link as FILE:LINE: #anchor (and the nearest existing anchors); exits 1 if
there is one, 0 otherwise. Uses only the standard library.
"""
import difflib
import os
import re
import sys
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
LINK = re.compile(r"\]\(([^)\s]*?)#([^)\s]+)\)")
HTML_ANCHOR = re.compile(r"""<a\s+(?:name|id)\s*=\s*["']([^"']+)["']|\sid\s*=\s*["']([^"']+)["']""")


def rendered(text):
    """A heading's text as GitHub renders it, before the slug is taken."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "")
    text = re.sub(r"(\*{1,3}|\b_{1,3}|_{1,3}\b)(?=\S)(.+?)(?<=\S)\1", r"\2", text)  # emphasis
    return text


def slug(text):
    keep = []
    for ch in rendered(text).strip().lower():
        cat = unicodedata.category(ch)
        if ch in " -" or cat[0] in "LMN" or cat == "Pc":
            keep.append(ch)
    return "".join(keep).replace(" ", "-")


def lines_outside_fences(path):
    """(line number, line) of every line not inside a fenced code block."""
    fenced = False
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if FENCE.match(line):
                fenced = not fenced
                continue
            if not fenced:
                yield n, line


def anchors(path):
    seen = {}
    found = set()
    for _, line in lines_outside_fences(path):
        m = HEADING.match(line)
        if m:
            base = slug(m.group(2))
            k = seen.get(base, 0)
            found.add(base if k == 0 else f"{base}-{k}")
            seen[base] = k + 1
        for a, b in HTML_ANCHOR.findall(line):
            found.add(a or b)
    return found


def main(argv):
    files = argv or [os.path.join(ROOT, "README.md")] + sorted(
        os.path.join(ROOT, "docs", f) for f in os.listdir(os.path.join(ROOT, "docs"))
        if f.endswith(".md"))
    cache = {}
    broken = links = 0
    for path in files:
        for n, line in lines_outside_fences(path):
            # Code spans may quote link syntax; they are not links.
            for target, anchor in LINK.findall(re.sub(r"`[^`]*`", "", line)):
                if target.startswith(("http://", "https://", "mailto:")):
                    continue
                dest = os.path.normpath(os.path.join(os.path.dirname(path), target)) if target else path
                if not dest.endswith(".md"):
                    continue
                links += 1
                if not os.path.isfile(dest):
                    print(f"{os.path.relpath(path, ROOT)}:{n}: {target}#{anchor}: no such file")
                    broken += 1
                    continue
                have = cache.setdefault(dest, anchors(dest))
                if anchor not in have:
                    near = difflib.get_close_matches(anchor, sorted(have), n=2, cutoff=0.5)
                    hint = f" (nearest: {', '.join('#' + a for a in near)})" if near else ""
                    print(f"{os.path.relpath(path, ROOT)}:{n}: {target}#{anchor}: no such heading{hint}")
                    broken += 1
    print(f"{links} links to headings in {len(files)} files, {broken} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
