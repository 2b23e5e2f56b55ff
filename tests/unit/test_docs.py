"""The docs name only what exists: modules and their attributes, ``python -m`` modules, repository paths,
``ntk-eoc`` subcommands and flags, and the flags of the scripts they show."""

from __future__ import annotations

import argparse
import importlib
import re
from pathlib import Path

import pytest

from ntk_eoc.pipeline.cli import _parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted(
    [
        *(ROOT / name for name in ("README.md", "benchmarks/README.md", "config/README.md", "src/ntk_eoc/SCIENCE.md")),
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "profiles").rglob("README*"),
        *(ROOT / ".ci").rglob("README*"),
    ]
)
# Top-level folders whose paths a doc may name; anything else in backticks is not checked as a path.
REPO_DIRS = ("src/", "workflow/", "config/", "benchmarks/", "tests/", "profiles/", "docs/", ".ci/", "envs/")
# Paths the project writes (git-ignored), named by the docs before they exist.
GENERATED = ("benchmarks/results/", "benchmarks/.nt-venv", "results/", ".venv/", ".jax_cache/")
PLACEHOLDER = re.compile(r"[<{*]|\.\.\.")
MODULE = re.compile(r"\bntk_eoc(?:\.[A-Za-z_][A-Za-z0-9_]*)+(?![\w.]*<)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def without_examples(text: str) -> str:
    """The text without fenced blocks marked as examples (```python example): a worked example names
    the files it would add."""
    return re.sub(r"^\s*```\w* example\n.*?^\s*```\n", "", text, flags=re.M | re.S)


def code_text(text: str) -> list[str]:
    """Inline code spans and the lines of fenced code blocks (shell comments dropped)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        out += [line.split(" # ", 1)[0]] if fenced else CODE_SPAN.findall(line)
    return out


def _module_ref_problem(ref: str) -> str | None:
    parts = ref.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for name in parts[i:]:
            if not hasattr(obj, name):
                return f"{ref}: {'.'.join(parts[:i])} has no {name!r}"
            obj = getattr(obj, name)
        return None
    return f"{ref}: no such module"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


def _cli_problem(line: str) -> str | None:
    """``ntk-eoc <command> [<action>] ... --flags``: the command, action and flags exist."""
    tokens = line.split("ntk-eoc ", 1)[1].split("#", 1)[0].split()
    parser, words = _parser(), []
    allowed = _flags(parser)
    for token in tokens:
        if token.startswith("-"):
            continue
        sub = _subparsers(parser)
        if not sub:
            break
        if token not in sub:
            return f"ntk-eoc {' '.join([*words, token])}: no such command"
        parser, words = sub[token], [*words, token]
        allowed |= _flags(parser)
    bad = [f for f in FLAG.findall(" ".join(tokens)) if f not in allowed]
    return f"ntk-eoc {' '.join(words)}: unknown flag(s) {bad}" if bad else None


def _script_problem(line: str) -> str | None:
    """``benchmarks/<script>.py ... --flag`` and ``python -m <module> ... --flag``: the script exists and
    defines each flag (its source spells it, or a stage's path argument names it)."""
    if m := re.search(r"(benchmarks/[\w]+\.py)", line):
        path, rest = ROOT / m.group(1), line[m.end() :]
    elif m := re.search(r"python -m (ntk_eoc[\w.]*\w)(?![\w.]*<)", line):
        spec = importlib.util.find_spec(m.group(1))
        if spec is None or spec.origin is None:
            return f"python -m {m.group(1)}: no such module"
        path, rest = Path(spec.origin), line[m.end() :]
    else:
        return None
    if not path.exists():
        return f"{path.relative_to(ROOT)}: no such script"
    source = path.read_text()
    if "stages" in path.parts:
        source += (path.parent / "__init__.py").read_text() + "--spec"
    bad = [
        f
        for f in FLAG.findall(rest.split("#", 1)[0].split("|", 1)[0])
        if f'"{f}"' not in source and f'"{f[2:]}"' not in source and f"'{f}'" not in source and f != "--help"
    ]
    return f"{path.name}: unknown flag(s) {bad}" if bad else None


def _path_problem(doc: Path, ref: str, linked: bool) -> str | None:
    ref = ref.strip().rstrip(".,;:)").split("::")[0].split(":", 1)[0]
    if PLACEHOLDER.search(ref) or " " in ref or "://" in ref or ref.startswith(GENERATED):
        return None
    candidates = [doc.parent / ref] if linked else [ROOT / ref]
    if linked and not ref.startswith(REPO_DIRS) and not ref.endswith((".md", ".py", ".yaml", ".smk")):
        return None
    if not linked and not ref.startswith(REPO_DIRS):
        return None
    return None if any(c.exists() for c in candidates) else f"{ref}: no such path"


def problems(doc: Path, text: str) -> list[str]:
    """Every reference of ``text`` (the contents of ``doc``) to something that does not exist."""
    out, text = [], without_examples(text)
    for ref in sorted(set(MODULE.findall(text))):
        out.append(_module_ref_problem(ref))
    for link in LINK.findall(text):
        out.append(_path_problem(doc, link, linked=True))
    for code in code_text(text):
        for token in code.split():
            out.append(_path_problem(doc, token.strip("'\"()"), linked=False))
        if "ntk-eoc " in code and re.search(r"(^|\s|/)ntk-eoc \w", code):
            out.append(_cli_problem(code))
        out.append(_script_problem(code))
    return sorted({p for p in out if p})


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_docs_name_only_what_exists(doc):
    assert problems(doc, doc.read_text()) == []


def test_the_check_finds_each_kind_of_stale_reference():
    doc = ROOT / "README.md"
    text = "\n".join(
        [
            "The module `ntk_eoc.eigen.solvers` and `ntk_eoc.math.samplers.no_such_function`.",
            "Run `python -m ntk_eoc.pipeline.sampling --spec x`.",
            "Or `python -m ntk_eoc.pipeline.stages.sample --config x`.",
            "See [the notes](workflow/NO_SUCH.md) and `src/ntk_eoc/eigen/solvers.py`.",
            "```bash",
            ".venv/bin/ntk-eoc verify results --fix",
            ".venv/bin/ntk-eoc frobnicate results",
            ".venv/bin/python benchmarks/bench_samplers.py --no-such-flag",
            "```",
        ]
    )
    found = "\n".join(problems(doc, text))
    for expected in (
        "ntk_eoc.eigen.solvers: ntk_eoc has no 'eigen'",
        "has no 'no_such_function'",
        "python -m ntk_eoc.pipeline.sampling: no such module",
        "sample.py: unknown flag(s) ['--config']",
        "workflow/NO_SUCH.md: no such path",
        "src/ntk_eoc/eigen/solvers.py: no such path",
        "ntk-eoc verify: unknown flag(s) ['--fix']",
        "ntk-eoc frobnicate: no such command",
        "bench_samplers.py: unknown flag(s) ['--no-such-flag']",
    ):
        assert expected in found, (expected, found)


README_COMMANDS = """# ntk-eoc

```bash
bash .ci/setup.sh && .venv/bin/snakemake --cores all
```

```bash
bash .ci/setup.sh && .venv/bin/ruff check . && .venv/bin/python -m pytest
```
"""


def test_readme_starts_with_the_two_commands_and_stays_short():
    text = (ROOT / "README.md").read_text()
    assert text.startswith(README_COMMANDS)
    assert len(text.splitlines()) <= 160


def test_the_store_path_scheme_is_written_once():
    """Only docs/developing.md spells the stores' path patterns; every other doc links to it."""
    pattern = re.compile(r"draws_<a>-<b>\.zarr|stores/(?:samples|limit|concentration|fluctuations|spectrum)/<")
    spelled = [str(d.relative_to(ROOT)) for d in DOCS if pattern.search(d.read_text())]
    assert spelled == ["docs/developing.md"]
