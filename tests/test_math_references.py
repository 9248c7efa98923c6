"""Every "MATH §n" reference in the code, the docs and the notebooks resolves to a section
of the repo's own docs/math.md (the binding reference the code cites)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MATH = ROOT / "docs" / "math.md"
REF = re.compile(r"MATH (§\d+(?:\s*(?:-|and|,)\s*§\d+)*)")
SOURCES = ["hermite_dual/**/*.py", "docs/**/*.md", "notebooks/*.ipynb", "tests/**/*.py",
           "benchmarks/*.py", "README.md"]


def sections():
    return {int(m.group(1)) for m in re.finditer(r"^## (\d+)\. ", MATH.read_text(), re.M)}


def references():
    found = []
    for pattern in SOURCES:
        for path in sorted(ROOT.glob(pattern)):
            text = path.read_text(encoding="utf-8")
            for m in REF.finditer(text):
                for number in re.findall(r"§(\d+)", m.group(1)):
                    found.append((path.relative_to(ROOT).as_posix(), int(number)))
    return found


def test_math_page_has_the_sections_the_code_cites():
    assert sections() >= set(range(1, 8))


def test_every_reference_resolves():
    refs = references()
    assert len(refs) > 40           # the code does cite it; a broken regex would find none
    missing = [(path, n) for path, n in refs if n not in sections()]
    assert not missing, missing


def test_no_reference_to_a_file_the_repo_does_not_have():
    stale = []
    for pattern in SOURCES:
        for path in ROOT.glob(pattern):
            if path.name == Path(__file__).name:
                continue
            if re.search(r"\bMATH\.md\b", path.read_text(encoding="utf-8")):
                stale.append(path.relative_to(ROOT).as_posix())
    assert not stale, stale
