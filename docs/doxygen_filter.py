#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Doxygen INPUT_FILTER: offhand's headers document their declarations with
# plain `//` comments (STYLE.md). This filter presents them to Doxygen as
# documentation without changing a header:
#   - the file's banner (the SPDX line and the lines under it) becomes the
#     file's documentation (`/// @file`);
#   - a block of `//` lines right above a declaration becomes `///`;
#   - a `// ...` comment trailing a member becomes `///< ...`;
#   - a block above several declarations with no blank line between them
#     (a getter under its setter) documents them all: they become a member
#     group (DISTRIBUTE_GROUP_DOC in the Doxyfile).
# A block followed by a blank line, a preprocessor line other than #define
# or #if (a documented macro defined conditionally),
# a closing brace or an access specifier stays a plain comment. Every line
# keeps its number, so Doxygen's warnings point into the real header.
# Text outside `code spans` is escaped where Doxygen would read it as a
# command (\ @ %) or as HTML (< >).
import re
import sys

COMMENT = re.compile(r"^(\s*)//(?!/)(.*)$")
ACCESS = re.compile(r"^\s*(public|protected|private)\s*:")


def escape(text):
    parts = text.split("`")
    for i in range(0, len(parts), 2):  # outside code spans
        p = parts[i].replace("\\", "\\\\").replace("@", "\\@").replace("%", "\\%")
        p = p.replace("#", "\\#")
        parts[i] = p.replace("<", "\\<").replace(">", "\\>")
    return "`".join(parts)


def doc_line(indent, body):
    return f"{indent}///{escape(body)}"


def trailing(line):
    # A `// comment` after code on the same line, outside string literals.
    pos = 0
    while True:
        at = line.find("//", pos)
        if at < 0:
            return None
        if line[:at].count('"') % 2 == 0 and not line[at:].startswith("///"):
            return at
        pos = at + 2


def attaches(line):
    s = line.strip()
    if not s or s.startswith("}") or ACCESS.match(s):
        return False
    if s.startswith("#") and not s.startswith(("#define", "#if")):
        return False
    return True


def group(lines, out, doc, start):
    # The declarations from `start` to the next blank line, comment, access
    # specifier or closing brace, if there are several: the group opens on
    # the first line of their comment (which then documents the first member,
    # and through DISTRIBUTE_GROUP_DOC the others) and closes on the last
    # declaration's line, so that no line moves.
    # A template, a preprocessor line, a body spread over several lines or a
    # member with a trailing comment of its own ends the run before it.
    ends = 0
    last = None
    k = start
    while k < len(lines):
        s = lines[k].strip()
        if not s or s.startswith("//") or s.startswith("}") or ACCESS.match(s):
            break
        if s.startswith("#") or s.startswith("template"):
            break
        if s.count("{") != s.count("}"):
            break
        if k > start and trailing(lines[k]) is not None:
            break  # a member documented on its own line
        if s.endswith(";") or s.endswith("}"):
            ends += 1
            last = k
        k += 1
    if ends < 2:
        return
    indent = len(lines[doc]) - len(lines[doc].lstrip())
    out[doc] = lines[doc][:indent] + "/** @{ */ " + out[doc][indent:]
    if "///<" in out[last]:  # the closing marker goes before a trailing doc
        at = out[last].index("///<")
        out[last] = out[last][:at] + "/** @} */ " + out[last][at:]
    else:
        out[last] = out[last] + " /** @} */"


def main(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    out = list(lines)
    i = 0
    n = len(lines)
    while i < n:
        m = COMMENT.match(lines[i])
        if not m:
            at = trailing(lines[i])
            code = lines[i][:at] if at is not None else ""
            if at is not None and code.strip() and code.rstrip().endswith((";", ",", "{")):
                body = lines[i][at + 2:]
                out[i] = f"{code}///<{escape(body)}"
            i += 1
            continue
        j = i
        while j < n and COMMENT.match(lines[j]):
            j += 1
        banner = i == 0 and "SPDX-License-Identifier" in lines[0]
        if banner:
            out[0] = "/// @file"
            for k in range(1, j):
                mk = COMMENT.match(lines[k])
                out[k] = doc_line(mk.group(1), mk.group(2))
        elif j < n and attaches(lines[j]):
            for k in range(i, j):
                mk = COMMENT.match(lines[k])
                out[k] = doc_line(mk.group(1), mk.group(2))
            if i > 0 and "///<" in out[i - 1]:
                # Right under a member's `///<`, a `///` block would continue
                # that member's text: this block is made a `/** */` one.
                for k in range(i, j):
                    mk = COMMENT.match(lines[k])
                    out[k] = f"{mk.group(1)}   {escape(mk.group(2))}"
                out[i] = f"{COMMENT.match(lines[i]).group(1)}/**{escape(COMMENT.match(lines[i]).group(2))}"
                out[j - 1] += " */"
            group(lines, out, i, j)
        i = j
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
