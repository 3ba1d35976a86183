#!/usr/bin/env python3
"""Compares two go-runc-conformance results (the reference runtime first, normally runc) field by field.

    compare.py [--fields README.md] [-v] REFERENCE.json OTHER.json

The field classes are read from the tables of README.md ("Must agree", "Must match", "Required of fc-supervisor",
"Legitimately differ"), so
the documentation and the check cannot drift apart. A field is a dotted path into `cases` (objects are flattened,
lists and `annotations` compare whole); patterns are shell-style (`bad_*.leftovers.*`), first class that matches
wins in the order agree, match, required, differ. Every field present in either file must be classified. "Must
agree": present in both and equal; "Must match": every value present matches the row's regex; "Required of":
the second file's value (it must be there) matches, when the two files come from different runtimes.
Prints one line per disagreement and exits 1 if there is any.
"""
import fnmatch
import json
import re
import sys
from pathlib import Path

HEADINGS = {"must agree": "agree", "must match": "match", "required of": "required", "legitimately differ": "differ"}
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|(.*)\|\s*$")


def load_classes(readme):
    """[(class, pattern, regex-or-None)] from README.md's three tables, in file order within each class."""
    rules, current = {"agree": [], "match": [], "required": [], "differ": []}, None
    for line in Path(readme).read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            current = next((c for h, c in HEADINGS.items() if title.startswith(h)), None)
            continue
        m = ROW.match(line)
        if current and m:
            regex = None
            if current in ("match", "required"):
                r = re.match(r"\s*`([^`]+)`", m.group(2))
                if not r:
                    sys.exit(f"compare.py: {readme}: a '{current}' row needs a `regex` column: {line}")
                regex = re.compile(r.group(1).replace(r"\|", "|"))  # `\|`: a | inside a table cell
            rules[current].append((m.group(1), regex))
    if not rules["agree"]:
        sys.exit(f"compare.py: no 'Must agree' table in {readme}")
    return [(c, p, r) for c in ("agree", "match", "required", "differ") for p, r in rules[c]]


def flatten(value, path=""):
    if isinstance(value, dict) and not path.endswith("annotations"):
        for key in sorted(value):
            yield from flatten(value[key], f"{path}.{key}" if path else key)
    else:
        yield path, value


def classify(rules, path):
    for cls, pattern, regex in rules:
        if fnmatch.fnmatchcase(path, pattern):
            return cls, regex
    return None, None


def main(argv):
    readme = Path(__file__).with_name("README.md")
    verbose = False
    args = []
    it = iter(argv)
    for a in it:
        if a == "--fields":
            readme = Path(next(it))
        elif a == "-v":
            verbose = True
        else:
            args.append(a)
    if len(args) != 2:
        sys.exit(__doc__)
    rules = load_classes(readme)
    ref_doc, other_doc = (json.loads(Path(p).read_text()) for p in args)
    ref, other = (dict(flatten(d.get("cases", {}))) for d in (ref_doc, other_doc))
    a_name, b_name = (Path(d.get("runtime", "?")).name for d in (ref_doc, other_doc))
    missing = object()
    problems = 0
    for path in sorted(set(ref) | set(other)):
        cls, regex = classify(rules, path)
        a, b = ref.get(path, missing), other.get(path, missing)
        show = lambda v: "(missing)" if v is missing else json.dumps(v)
        if cls is None:
            print(f"UNCLASSIFIED {path}: {a_name}={show(a)} {b_name}={show(b)} (add it to a table in {readme.name})")
            problems += 1
        elif cls == "agree" and (a is missing or b is missing or a != b):
            print(f"DIFFER {path}: {a_name}={show(a)} {b_name}={show(b)}")
            problems += 1
        elif cls == "match":
            # Only values that are there: such fields are often conditional (`msg` exists only on failure); a
            # case that did not get that far shows up through its `Must agree` fields.
            for name, v in ((a_name, a), (b_name, b)):
                if v is not missing and not regex.search(json.dumps(v)):
                    print(f"NO-MATCH {path}: {name}={show(v)} does not match /{regex.pattern}/")
                    problems += 1
        elif cls == "required":
            # Issue 15's stricter rules bind the runtime under test, not runc (skipped runc-vs-runc).
            if b_name != a_name and (b is missing or not regex.search(json.dumps(b))):
                print(f"REQUIRED {path}: {b_name}={show(b)} does not match /{regex.pattern}/")
                problems += 1
        elif cls == "differ" and verbose and a != b:
            print(f"(differs, documented) {path}: {a_name}={show(a)} {b_name}={show(b)}")
    compared = sum(1 for p in set(ref) | set(other) if classify(rules, p)[0] in ("agree", "match", "required"))
    print(f"compare.py: {compared} fields compared, {problems} disagreement(s) "
          f"({a_name}: {args[0]}, {b_name}: {args[1]})", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
