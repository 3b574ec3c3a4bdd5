#!/usr/bin/env python3
"""No two files of the house call each other in a circle.

Reads the production C files given (or every common/ verify/ fetcher/ store/ deploy/
cli/ file), finds which file defines each function, and which other files each file
calls; prints every cycle in that graph and exits 1 when there is one. Calls through
function pointers are not seen: a callback is the caller's to hand out.
"""
import glob
import re
import sys

DEF = re.compile(r'^(?:static\s+)?[a-z][^\n;=]*?\b(\w+)\([^;{]*?\)\n\{\n', re.M | re.S)
CALL = re.compile(r'\b([a-z_][a-z0-9_]*)\s*\(')


def bodies(text):
    """(name, body) of every function definition in text."""
    for m in DEF.finditer(text):
        i, depth = m.end(), 1
        while depth:
            depth += {'{': 1, '}': -1}.get(text[i], 0)
            i += 1
        yield m.group(1), text[m.end():i]


def main(files):
    owner, calls = {}, {}
    texts = {f: open(f).read() for f in files}
    for f, text in texts.items():
        for name, _ in bodies(text):
            if not re.search(r'^static\b[^;{]*\b%s\(' % name, text, re.M):
                owner[name] = f
    for f, text in texts.items():
        calls[f] = set()
        for _, body in bodies(text):
            for callee in CALL.findall(body):
                g = owner.get(callee)
                if g and g != f:
                    calls[f].add(g)
    cycles, state = [], {}

    def visit(f, path):
        state[f] = 1
        for g in sorted(calls[f]):
            if state.get(g) == 1:
                cycles.append(path[path.index(g):] + [g])
            elif not state.get(g):
                visit(g, path + [g])
        state[f] = 2

    for f in sorted(calls):
        if not state.get(f):
            visit(f, [f])
    for c in cycles:
        print('cycle: ' + ' -> '.join(c))
    return 1 if cycles else 0


if __name__ == '__main__':
    args = sys.argv[1:] or sorted(glob.glob('*/*.c'))
    args = [a for a in args if a.split('/')[0] in
            ('common', 'verify', 'fetcher', 'store', 'deploy', 'cli')]
    sys.exit(main(args))
