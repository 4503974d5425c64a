"""Checks of what the documentation site and the README show, without Quarto (CI runs it).

    python tools/check_docs.py

- every notebook is in the sidebar (by name or by an `auto:` glob of `nbs/sidebar.yml`);
- every `page.html#anchor` link in a notebook or the README names an existing page and, on it, a documented symbol
  (from `unlearun/_modidx.py`) or a heading;
- the README has no links relative to `nbs/` (they 404 on GitHub and PyPI) and names every registered metric;
- stored outputs show no path of a machine (a home, /tmp, a checkout), no progress bars or terminal escape codes, no
  widget without saved state, and no figure stored at half its size (retina);
- no code line in a notebook is longer than 100 characters (the site's code column cuts longer ones).
"""
import ast, fnmatch, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"
PREFIX = re.compile(r"^\d+[a-z]?_")                  # nbdev drops it: 10_methods.npo.ipynb -> methods.npo.html
MACHINE = re.compile(r"(/root/|/home/\w|/tmp/|/work/|/Users/\w|C:\\\\Users)")
PROGRESS = re.compile(r"\d+%\|[^\n]*\||it/s\]|s/it\]")


def page(nb: Path) -> str: return PREFIX.sub("", nb.stem) + ".html"
def cells(nb: Path) -> list[dict]: return json.loads(nb.read_text())["cells"]
def src(c) -> str: return "".join(c["source"])


def slug(heading: str) -> str:
    "Quarto's id for a heading: lower case, spaces to dashes, punctuation dropped."
    s = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", s).strip().replace(" ", "-")


def sidebar_errors() -> list[str]:
    text = (NBS / "sidebar.yml").read_text()
    named = set(re.findall(r"-\s+([\w.]+\.ipynb)\s*$", text, re.M))
    globs = re.findall(r'auto:\s*"([^"]+)"', text)
    out = []
    for nb in sorted(NBS.glob("*.ipynb")):
        if nb.name not in named and not any(fnmatch.fnmatch(nb.name, g) for g in globs):
            out.append(f"nbs/sidebar.yml: {nb.name} is in no section")
    for n in sorted(named):
        if not (NBS / n).exists(): out.append(f"nbs/sidebar.yml: {n} does not exist")
    return out


def anchors() -> dict[str, set]:
    "page -> the anchors it has: documented symbols (from _modidx) and headings."
    mod = (ROOT / "unlearun" / "_modidx.py").read_text()
    d = ast.literal_eval(mod[mod.index("d = ") + 4:].strip())
    out = {page(nb): set() for nb in NBS.glob("*.ipynb")}
    for syms in d["syms"].values():
        for link, _ in syms.values():
            p, _, a = link.partition("#")
            out.setdefault(p, set()).add(a)
    for nb in NBS.glob("*.ipynb"):
        for c in cells(nb):
            if c["cell_type"] == "markdown":
                out[page(nb)] |= {slug(h) for h in re.findall(r"^#+\s+(.*)$", src(c), re.M)}
    return out


def link_errors(name: str, text: str, have: dict) -> list[str]:
    out = []
    for p, a in re.findall(r"\(([\w.\-]+\.(?:html|ipynb))(?:#([\w.\-]+))?\)", text):
        if p.endswith(".ipynb"):
            if not (NBS / p).exists():
                out.append(f"{name}: link to {p}, which is not a notebook in nbs/"); continue
            p = page(NBS / p)
        if p not in have: out.append(f"{name}: link to {p}, which is not a page of the site")
        elif a and a not in have[p]: out.append(f"{name}: link to {p}#{a}: no such symbol or heading on that page")
    return out


def readme_errors() -> list[str]:
    text = (ROOT / "README.md").read_text()
    out = [f"README.md: relative link {l!r} (404 on GitHub and PyPI): link the docs site"
           for l in re.findall(r"\]\((?!https?://|#)([^)]+)\)", text)]
    sys.path.insert(0, str(ROOT))
    from unlearun.evaluation import METRICS
    out += [f"README.md: metric {m!r} is not in the metric table" for m in METRICS if f"| `{m}` |" not in text]
    return out


def output_errors() -> list[str]:
    out = []
    for nb in sorted(NBS.glob("*.ipynb")):
        for i, c in enumerate(cells(nb)):
            for o in c.get("outputs", []):
                text = "".join(o.get("text", "")) + "".join("".join(v) for k, v in o.get("data", {}).items()
                                                            if k.startswith("text/"))
                if (m := MACHINE.search(text)): out.append(f"{nb.name} cell {i}: stored output shows a path ({m.group(0)}...)")
                if PROGRESS.search(text): out.append(f"{nb.name} cell {i}: stored output has a progress bar")
                if "\x1b[" in text: out.append(f"{nb.name} cell {i}: stored output has terminal escape codes")
                if "application/vnd.jupyter.widget-view+json" in o.get("data", {}):
                    out.append(f"{nb.name} cell {i}: a widget without saved state (an empty box on the page)")
                if "image/png" in o.get("metadata", {}):
                    out.append(f"{nb.name} cell {i}: a figure stored at half its size (retina); "
                               "store it with tools/run_nb.py (or --images-only)")
    return out


def line_errors(limit: int = 100) -> list[str]:
    "Code lines the site's code column would cut (it shows about 100 characters)."
    out = []
    for nb in sorted(NBS.glob("*.ipynb")):
        for i, c in enumerate(cells(nb)):
            if c["cell_type"] != "code": continue
            out += [f"{nb.name} cell {i} line {j + 1}: {len(l)} characters (at most {limit})"
                    for j, l in enumerate(src(c).split("\n")) if len(l) > limit]
    return out


def main() -> int:
    have = anchors()
    errs = sidebar_errors() + readme_errors() + output_errors() + line_errors()
    for nb in sorted(NBS.glob("*.ipynb")):
        errs += link_errors(nb.name, "\n".join(src(c) for c in cells(nb) if c["cell_type"] == "markdown"), have)
    errs += link_errors("README.md", (ROOT / "README.md").read_text(), have)
    print("\n".join(errs) if errs else "docs checks: sidebar, links, README, stored outputs and line lengths are fine")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
