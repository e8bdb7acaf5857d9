#!/usr/bin/env python3
"""check_facts.py JSON_FILE EXPECT_FILE NAME - TAP lines for every fact in EXPECT_FILE.

An expect line is `PATH OP VALUE`: PATH walks the JSON array (`0.suberror.number`; a list
index is a number) or is `count` (the number of blocks); OP is `=` (VALUE is JSON and must be
equal), `~` (VALUE is a JSON string found in the fact; for a list, in one of its items) or
`#` (the fact is a list of VALUE items). `#` at the start of a line is a comment. Prints
"ok"/"not ok" lines without a plan; the caller numbers them.
"""
import json, sys

data = json.load(open(sys.argv[1]))
name = sys.argv[3]
for raw in open(sys.argv[2]):
    line = raw.strip()
    if not line or line.startswith('#'):
        continue
    path, op, value = line.split(' ', 2)
    want = json.loads(value)
    if path == 'count':
        got, found = len(data), True
    else:
        got, found = data, True
        for part in path.split('.'):
            try:
                got = got[int(part)] if isinstance(got, list) else got[part]
            except (KeyError, IndexError, ValueError, TypeError):
                found = False
                break
    if not found:
        ok = False
    elif op == '=':
        ok = got == want
    elif op == '~':
        items = got if isinstance(got, list) else [got]
        ok = any(isinstance(i, str) and want in i for i in items)
    elif op == '#':
        ok = isinstance(got, list) and len(got) == want
    else:
        ok = False
    desc = f"{name}: {path} {op} {value}"
    print(("ok - " if ok else "not ok - ") + desc)
    if not ok:
        print(f"#   got: {json.dumps(got) if found else '(no such fact)'}")
