"""Summarises a `go test -json` stream: each package's result, the output of every failed
test, and a closing line `go test: N passed, N failed, N skipped`."""
import json
import sys
from collections import defaultdict

def main(path: str) -> int:
    out = defaultdict(list)
    results = {}
    pkgs = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            raw = raw.strip()
            if not raw.startswith("{"):
                print(raw)  # build errors and the harness's own lines
                continue
            try:
                ev = json.loads(raw)
            except json.JSONDecodeError:
                print(raw)
                continue
            pkg, test, action = ev.get("Package", ""), ev.get("Test"), ev.get("Action")
            if action == "output":
                out[(pkg, test)].append(ev.get("Output", ""))
            elif action in ("pass", "fail", "skip"):
                if test:
                    results[(pkg, test)] = action
                else:
                    pkgs[pkg] = (action, ev.get("Elapsed", 0))
    for (pkg, test), action in sorted(results.items()):
        if action == "fail":
            print(f"--- FAIL: {pkg} {test}")
            print("".join(out[(pkg, test)]), end="")
    for pkg, (action, elapsed) in sorted(pkgs.items()):
        if action == "fail" and not any(p == pkg and a == "fail" for (p, _), a in results.items()):
            print("".join(out[(pkg, None)]), end="")
        print(f"{ {'pass': 'ok  ', 'fail': 'FAIL', 'skip': 'none'}[action]} {pkg} {elapsed:.1f}s")
    # "none": a package without test files. Subtests count once each, parents too.
    n = {a: sum(1 for v in results.values() if v == a) for a in ("pass", "fail", "skip")}
    print(f"go test: {n['pass']} passed, {n['fail']} failed, {n['skip']} skipped")
    return 1 if n["fail"] or any(a == "fail" for a, _ in pkgs.values()) else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
