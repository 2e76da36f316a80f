"""Shared by the bench/run_*.py scripts: replaces one marked section of docs/BENCHMARKS.md."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs/BENCHMARKS.md")
# The permutation benchmark's per-kind tables, too long for the summary document.
PERMUTE_KINDS_DOC = os.path.join(ROOT, "docs/bench/permute-kinds.md")


def write_section(name, table, heading, doc=DOC):
    """Puts `table` between <!-- NAME:BEGIN --> and <!-- NAME:END --> of `doc`, appending the markers under
    `heading` when the document does not have them yet."""
    text = open(doc).read() if os.path.exists(doc) else ""
    start, end = f"<!-- {name}:BEGIN -->", f"<!-- {name}:END -->"
    if start in text:
        text = text[:text.index(start) + len(start)] + "\n" + table + "\n" + text[text.index(end):]
    else:
        text += f"\n## {heading}\n\n{start}\n{table}\n{end}\n"
    open(doc, "w").write(text)
