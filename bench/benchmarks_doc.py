"""Shared by the bench/run_*.py scripts: replaces one marked section of docs/BENCHMARKS.md."""
import os

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs/BENCHMARKS.md")


def write_section(name, table, heading):
    """Puts `table` between <!-- NAME:BEGIN --> and <!-- NAME:END -->, appending the markers under
    `heading` when the document does not have them yet."""
    text = open(DOC).read()
    start, end = f"<!-- {name}:BEGIN -->", f"<!-- {name}:END -->"
    if start in text:
        text = text[:text.index(start) + len(start)] + "\n" + table + "\n" + text[text.index(end):]
    else:
        text += f"\n## {heading}\n\n{start}\n{table}\n{end}\n"
    open(DOC, "w").write(text)
