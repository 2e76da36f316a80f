#!/usr/bin/python3
"""Writes docs/FLAGS.md, the flags reference, from what each program's --help prints; with --check, fails when
the document differs from the binaries instead, naming the flags that drifted and the command to regenerate.

usage: scripts/gen-flags-doc.py [--check] [--doc=PATH] SQUATSTREAMD SQUATSTREAM SQUATSTREAM_LOAD

The programs' --helpfull prints their flags as absl does: `--name (description); default: value;`, wrapped at 80
columns under a `Flags from <source file>:` line (absl's own flags too: left out, their files are not here). What --help prints is the only source: the descriptions and defaults
are the flags' own (ABSL_FLAG in daemon/flags.cc, client/main.cc, client/load_main.cc). absl prints no type;
the document says how to read one from the default.

Deterministic on any machine with the same sources: the programs run with no SQUATSTREAM_* variable (which
would set a flag, and absl would then print its current value beside the default), and the source file absl
names by the build machine's absolute path is written relative to the repository. No default depends on the
machine (the thread counts are fixed numbers, the paths fixed strings); the script refuses output that holds
the repository's absolute path, which is how a machine-dependent default would show.
Standard library only; runs under Debian's /usr/bin/python3.
"""
import difflib
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DOC = os.path.join(ROOT, "docs", "FLAGS.md")
# The programs, in the order of the arguments and of the document's sections.
PROGRAMS = ["squatstreamd", "squatstream", "squatstream-load"]
REGENERATE = ("/usr/bin/python3 scripts/gen-flags-doc.py build/dev/daemon/squatstreamd "
              "build/dev/client/squatstream build/dev/client/squatstream-load")
FLAG_RE = re.compile(r"^--(?P<name>[A-Za-z0-9_]+) \((?P<description>.*)\); default: (?P<default>.*?);"
                     r"(?: currently: (?P<current>.*?);)?$")


class HelpError(Exception):
    pass


def run_help(binary):
    """What `binary --helpfull` prints (absl exits 1 after help; the output decides, not the status). --help is
    the programs' own grouped text (base/flag_usage.h); --helpfull is absl's, every flag under its source file,
    absl's own among them (parse_help keeps the repository's files only)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQUATSTREAM_")}
    try:
        r = subprocess.run([binary, "--helpfull"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=60)
    except OSError as e:
        raise HelpError(f"cannot run {binary}: {e}")
    return r.stdout.decode("utf-8"), r.stderr.decode("utf-8", "replace")


def source_path(absl_path):
    """The source file absl names (the build's absolute path without its leading '/'), relative to the
    repository: its longest suffix that names a file here; else its last two components."""
    parts = absl_path.split("/")
    for i in range(len(parts)):
        candidate = "/".join(parts[i:])
        if os.path.isfile(os.path.join(ROOT, candidate)):
            return candidate
    return "/".join(parts[-2:])


def parse_help(program, text):
    """Returns {usage, sources, flags: [(name, default, description)]} from absl's --help output."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith(program + ": "):
        raise HelpError(f"{program} --help: expected its first line to start with '{program}: ', got "
                        f"{lines[0]!r}" if lines else f"{program} --help printed nothing")
    usage = [lines[0][len(program) + 2:]]
    i = 1
    while i < len(lines) and lines[i].strip():
        usage.append(lines[i])
        i += 1
    sources, flags, entry = [], [], None

    def finish(entry):
        if entry is None:
            return
        m = FLAG_RE.match(" ".join(entry))
        if not m:
            raise HelpError(f"{program} --help: cannot read the flag entry {' '.join(entry)!r}")
        if m.group("current") is not None:
            raise HelpError(f"{program} --help: --{m.group('name')} is set (currently {m.group('current')}); "
                            "the reference lists defaults only")
        flags.append((m.group("name"), m.group("default"), m.group("description")))

    keep = False  # whether the current section's source file is the repository's (not absl's)
    for line in lines[i:]:
        if line.startswith("  Flags from ") and line.endswith(":"):
            finish(entry)
            entry = None
            path = source_path(line[len("  Flags from "):-1])
            keep = os.path.isfile(os.path.join(ROOT, path))
            if keep:
                sources.append(path)
        elif line.startswith("    --") and keep:
            finish(entry)
            entry = [line.strip()]
        elif line.startswith("      ") and entry is not None:
            entry.append(line.strip())
        else:  # the blank line and absl's closing hint about --helpfull
            finish(entry)
            entry = None
    finish(entry)
    if not flags:
        raise HelpError(f"{program} --help listed no flags")
    return {"usage": usage, "sources": sources, "flags": flags}


def escape(text):
    """Markdown table cell text: what GitHub would read as markup, math, a cell border or HTML, escaped."""
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`").replace("*", "\\*")
    text = text.replace("<", "&lt;").replace("$", "\\$").replace("[", "\\[").replace("]", "\\]")
    # '_' inside a word is never emphasis on GitHub; only one at a word's edge needs the escape.
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)


def code(text):
    """Text as inline code, with enough backticks around it for any it holds."""
    if text == "":
        return "(empty)"
    ticks = "`" * (max((len(t) for t in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def render(helps):
    out = [
        "# Flags reference",
        "",
        "Generated from each program's `--helpfull` by `scripts/gen-flags-doc.py` — do not edit; regenerate with",
        f"`{REGENERATE}`",
        "(any preset's build). CI fails when this file and the binaries differ (ctest",
        "`docs_flags_reference_in_sync`).",
        "",
        "Defaults are printed as `--helpfull` prints them, which names no types: a quoted default is a string, an",
        "unquoted word list a comma-separated list (`(empty)`: none), `true`/`false` a boolean, `20ms`, `2.5s`,",
        "`5m`, `24h` a duration (absl's syntax, e.g. `1h30m`). What the flags mean together — the stages, the",
        "memory budget, the drain — is in [STAGES.md](STAGES.md), [DEPLOY.md](DEPLOY.md) and [CLIENT.md](CLIENT.md).",
    ]
    for program in PROGRAMS:
        h = helps[program]
        out += ["", f"## {program}", "", "```text"] + h["usage"] + ["```", ""]
        out.append("Defined in " + ", ".join(f"`{s}`" for s in h["sources"]) + ".")
        out += ["", "| flag | default | description |", "|---|---|---|"]
        for name, default, description in h["flags"]:
            out.append(f"| `--{name}` | {code(default)} | {escape(description)} |")
    return "\n".join(out) + "\n"


def table_rows(text):
    """{(program, flag): row} of a rendered document, for naming what drifted."""
    rows, program = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            program = line[3:].strip()
        m = re.match(r"^\| `--([A-Za-z0-9_]+)` \|", line)
        if m and program:
            rows[(program, m.group(1))] = line
    return rows


def drift(current, wanted):
    """Sentences naming what differs between the document as it is and as the binaries make it."""
    have, want = table_rows(current), table_rows(wanted)
    said = []
    for key in sorted(want.keys() - have.keys()):
        said.append(f"{key[0]} --{key[1]}: in --help, missing from the document")
    for key in sorted(have.keys() - want.keys()):
        said.append(f"{key[0]} --{key[1]}: in the document, not in --help")
    for key in sorted(have.keys() & want.keys()):
        if have[key] != want[key]:
            said.append(f"{key[0]} --{key[1]}: default or description differs")
    strip = lambda text: [l for l in text.splitlines() if not re.match(r"^\| `--", l)]
    if strip(current) != strip(wanted):
        said.append("the text around the tables differs (header, usage lines or source files)")
    return said


def holds_checkout_path(text):
    """Whether `text` names this checkout by its absolute path, with or without the leading '/' (absl drops it
    from a source file's path)."""
    root = ROOT.strip("/")
    return bool(root) and re.search(r"(?<![\w.-])/?" + re.escape(root) + "/", text) is not None


def main(argv):
    check, doc, binaries = False, DEFAULT_DOC, []
    for arg in argv:
        if arg == "--check":
            check = True
        elif arg.startswith("--doc="):
            doc = arg[len("--doc="):]
        elif arg.startswith("-"):
            sys.exit(f"gen-flags-doc: unknown option {arg}\n\n{__doc__}")
        else:
            binaries.append(arg)
    if len(binaries) != len(PROGRAMS):
        sys.exit(__doc__)
    helps = {}
    try:
        for program, binary in zip(PROGRAMS, binaries):
            if os.path.basename(binary) != program:
                raise HelpError(f"expected {program} as argument {len(helps) + 1}, got {binary}")
            stdout, stderr = run_help(binary)
            try:
                helps[program] = parse_help(program, stdout)
            except HelpError as e:
                raise HelpError(f"{e}\n(stderr: {stderr.strip()})" if stderr.strip() else str(e))
    except HelpError as e:
        sys.exit(f"gen-flags-doc: {e}")
    wanted = render(helps)
    if holds_checkout_path(wanted):
        sys.exit(f"gen-flags-doc: the reference would hold this checkout's path ({ROOT}): a default or a "
                 "source file depends on the machine; fix the flag or this script")
    shown = os.path.relpath(doc, ROOT) if os.path.abspath(doc).startswith(ROOT + os.sep) else doc
    if not check:
        with open(doc, "w", encoding="utf-8") as f:
            f.write(wanted)
        print(f"gen-flags-doc: wrote {shown} ({sum(len(h['flags']) for h in helps.values())} flags)")
        return 0
    try:
        current = open(doc, encoding="utf-8").read()
    except OSError as e:
        sys.exit(f"gen-flags-doc: cannot read {shown}: {e}\nregenerate it with: {REGENERATE}")
    if current == wanted:
        print(f"gen-flags-doc: {shown} matches --help of {', '.join(PROGRAMS)}")
        return 0
    print(f"gen-flags-doc: {shown} is out of date with the programs' --help:")
    for sentence in drift(current, wanted):
        print(f"  - {sentence}")
    diff = list(difflib.unified_diff(current.splitlines(), wanted.splitlines(), shown, "--help", lineterm="",
                                     n=1))
    print("\n".join(diff[:60] + (["  … (diff cut at 60 lines)"] if len(diff) > 60 else [])))
    print(f"regenerate it (from a build of these sources) and commit it: {REGENERATE}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
