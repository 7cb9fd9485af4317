#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Checks that the code the guide shows is the code the examples build: in
# docs/*.md, a fenced block right under a marker
#   <!-- snippet: examples/quickstart.cpp quickstart -->
# must equal, line for line, the region of that file between
# "// [snippet quickstart]" and "// [end snippet]" (its common indentation
# removed). Other fenced blocks are free text. With --update, the blocks
# are rewritten from the examples instead (after editing an example).
#
#   check_snippets.py SOURCE_ROOT [--update]
import os
import re
import sys
import textwrap

MARKER = re.compile(r"<!-- snippet: (\S+) (\S+) -->")


def region(path, name):
    lines = open(path, encoding="utf-8").read().split("\n")
    start = f"// [snippet {name}]"
    try:
        first = next(i for i, line in enumerate(lines) if line.strip() == start) + 1
        last = next(i for i in range(first, len(lines)) if lines[i].strip() == "// [end snippet]")
    except StopIteration:
        return None
    return textwrap.dedent("\n".join(lines[first:last]))


def main(root, update=False):
    failures = []
    checked = 0
    docs = os.path.join(root, "docs")
    for page in sorted(f for f in os.listdir(docs) if f.endswith(".md")):
        page_path = os.path.join(docs, page)
        lines = open(page_path, encoding="utf-8").read().split("\n")
        changed = False
        for i, line in enumerate(lines):
            m = MARKER.fullmatch(line.strip())
            if not m:
                continue
            where = f"docs/{page}:{i + 1}"
            if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
                failures.append(f"{where}: the marker is not right above a fenced block")
                continue
            end = next((k for k in range(i + 2, len(lines)) if lines[k].startswith("```")), None)
            if end is None:
                failures.append(f"{where}: the fenced block does not end")
                continue
            shown = "\n".join(lines[i + 2:end])
            source = os.path.join(root, m.group(1))
            if not os.path.exists(source):
                failures.append(f"{where}: {m.group(1)} does not exist")
                continue
            expected = region(source, m.group(2))
            if expected is None:
                failures.append(f"{where}: {m.group(1)} has no region {m.group(2)}")
            elif shown != expected and update:
                lines[i + 2:end] = expected.split("\n")
                changed = True
            elif shown != expected:
                failures.append(f"{where}: differs from {m.group(1)} region {m.group(2)}")
            checked += 1
        if changed:
            with open(page_path, "w", encoding="utf-8") as f:
                f.write("\n".join(lines))
    for f in failures:
        print(f, file=sys.stderr)
    if checked == 0:
        failures.append("no snippet marker found in docs/")
        print(failures[-1], file=sys.stderr)
    print(f"{checked} snippets checked, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--update" in sys.argv[2:]))
