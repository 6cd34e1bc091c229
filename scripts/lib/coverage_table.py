"""Prints line coverage per workspace crate from a cargo-llvm-cov JSON summary.

Test code (tests/, the test-util support module src/testing/ and the runner's
test functions) is left out: the figure is about the code that ships.
"""
import json
import os
import sys
from collections import defaultdict

TARGETS = {"shop-core": 90.0}  # and every functions/<endpoint> crate


def crate_of(path: str, root: str):
    rel = os.path.relpath(path, root)
    parts = rel.split(os.sep)
    if parts[0] == "functions" and len(parts) > 2:
        return parts[1]
    if parts[0] == "runner" and parts[1] != "test-functions":
        return "runner"
    return None


def main() -> int:
    summary = json.load(open(sys.argv[1]))
    root = os.getcwd()
    lines = defaultdict(lambda: [0, 0])
    for entry in summary["data"][0]["files"]:
        path = entry["filename"]
        if f"{os.sep}tests{os.sep}" in path or f"{os.sep}src{os.sep}testing{os.sep}" in path:
            continue
        crate = crate_of(path, root)
        if crate is None:
            continue
        lines[crate][0] += entry["summary"]["lines"]["covered"]
        lines[crate][1] += entry["summary"]["lines"]["count"]
    print(f"{'crate':<24} {'lines':>7} {'covered':>8} {'percent':>8}")
    failing = []
    shipped = [0, 0]
    for crate in sorted(lines):
        covered, count = lines[crate]
        percent = 100.0 * covered / count if count else 100.0
        print(f"{crate:<24} {count:>7} {covered:>8} {percent:>7.1f}%")
        if crate != "runner":
            shipped[0] += covered
            shipped[1] += count
            if percent < TARGETS.get(crate, 90.0):
                failing.append(crate)
    total = 100.0 * shipped[0] / shipped[1] if shipped[1] else 100.0
    print(f"{'shared crate + functions':<24} {shipped[1]:>7} {shipped[0]:>8} {total:>7.1f}%")
    if failing:
        print("below 90%: " + ", ".join(failing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
