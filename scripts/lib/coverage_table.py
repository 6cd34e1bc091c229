"""Prints line coverage per workspace crate from an lcov file (cargo llvm-cov
report --lcov).

Test code is left out: files under tests/, the test-util support modules
(src/testing/, src/fuzzing/), unit-test files (`tests.rs`, `*_tests.rs`), the
runner's test functions, and in every other file the lines from its inline
test module (`#[cfg(test)] mod tests {`) on. The
figure is about the code that ships.
"""
import os
import re
import sys
from collections import defaultdict

TARGET = 90.0  # per crates/<library> and functions/<endpoint> crate


def crate_of(path: str, root: str):
    rel = os.path.relpath(path, root)
    parts = rel.split(os.sep)
    if parts[0] in ("crates", "functions") and len(parts) > 2:
        return parts[1]
    if parts[0] == "runner" and parts[1] != "test-functions":
        return "runner"
    return None


def is_test_file(path: str) -> bool:
    name = os.path.basename(path)
    return (any(f"{os.sep}{d}{os.sep}" in path for d in ("tests", "testing", "fuzzing"))
            or name == "tests.rs" or name.endswith("_tests.rs"))


def first_test_line(path: str) -> int:
    """The 1-based line of the file's inline test module (`#[cfg(test)]` then
    `mod name {`), or past its end."""
    try:
        with open(path) as source:
            lines = source.read().split("\n")
        for number, line in enumerate(lines, 1):
            following = lines[number] if number < len(lines) else ""
            if re.match(r"\s*#\[cfg\(test\)\]", line) and re.match(r"\s*mod \w+ \{", following):
                return number
    except OSError:
        pass
    return sys.maxsize


def read_lcov(path: str):
    """(source file, {line: hits}) for every file of the report."""
    current, hits = None, {}
    for line in open(path):
        line = line.strip()
        if line.startswith("SF:"):
            current, hits = line[3:], {}
        elif line.startswith("DA:") and current:
            number, count = line[3:].split(",")[:2]
            hits[int(number)] = max(hits.get(int(number), 0), int(count))
        elif line == "end_of_record" and current:
            yield current, hits
            current = None


def main() -> int:
    root = os.getcwd()
    lines = defaultdict(lambda: [0, 0])
    for source, hits in read_lcov(sys.argv[1]):
        crate = crate_of(source, root)
        if crate is None or is_test_file(source):
            continue
        end = first_test_line(source)
        counted = [count for number, count in hits.items() if number < end]
        lines[crate][0] += sum(1 for count in counted if count > 0)
        lines[crate][1] += len(counted)
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
            if percent < TARGET:
                failing.append(crate)
    total = 100.0 * shipped[0] / shipped[1] if shipped[1] else 100.0
    print(f"{'shop crates + functions':<24} {shipped[1]:>7} {shipped[0]:>8} {total:>7.1f}%")
    if failing:
        print(f"below {TARGET:.0f}%: " + ", ".join(failing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
