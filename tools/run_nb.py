"""Execute notebooks and store their outputs: what the documentation site shows.

    python tools/run_nb.py nbs/11_methods.grad_diff.ipynb nbs/12_methods.npo.ipynb   # every cell, slow ones too
    python tools/run_nb.py --skip-slow nbs/*.ipynb                                    # leave slow cells' outputs

Figures are stored as plain PNG at their own size (not retina). Progress bars written to stderr are dropped, and an
output that shows a path of this machine (a home, /tmp or the checkout) stops the run: stored outputs must read the
same on any machine. Run `nbdev_clean` afterwards.
"""
import argparse, os, re, sys
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell

ROOT = Path(__file__).resolve().parent.parent
PROGRESS = re.compile(r"(\d+%\|)|(it/s\])|(s/it\])|(Writing model shards)|(Loading weights)")


def machine_paths() -> list[str]:
    "Path prefixes that are this machine's and must not appear in stored outputs."
    import tempfile
    out = {str(ROOT), str(Path.home()), tempfile.gettempdir(), "/tmp/"}
    return sorted(p for p in out if p and p != "/")


def _skip(cell, skip_slow: bool) -> bool:
    src = cell.source
    return "#| eval: false" in src or "#|eval: false" in src or (skip_slow and ("#| slow" in src or "#|slow" in src))


def _clean_outputs(cell):
    keep = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream" and o.get("name") == "stderr":
            lines = [l for l in "".join(o["text"]).splitlines(True) if not PROGRESS.search(l)]
            if not "".join(lines).strip(): continue
            o["text"] = "".join(lines)
        keep.append(o)
    cell["outputs"] = keep


def check_paths(nb, path):
    bad = machine_paths()
    for i, c in enumerate(nb.cells):
        for o in c.get("outputs", []):
            text = "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
            hits = [p for p in bad if p in text]
            if hits: sys.exit(f"{path}: cell {i} output shows a path of this machine ({hits[0]}); fix the cell")


def run(path: Path, skip_slow: bool):
    nb = read_nb(path)
    old = {i: c.get("outputs", []) for i, c in enumerate(nb.cells)} if skip_slow else {}
    shell = CaptureShell(path=path.parent, mpl_format="png")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    shell.run_all(nb, exc_stop=True, preproc=lambda c: _skip(c, skip_slow))
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code": continue
        if _skip(c, skip_slow) and i in old: c["outputs"] = old[i]     # leave what a full run stored
        _clean_outputs(c)
    check_paths(nb, path)
    write_nb(nb, path)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--skip-slow", action="store_true", help="do not run slow cells; keep their stored outputs")
    a = p.parse_args()
    for nb in a.notebooks:
        print(f"running {nb}", flush=True)
        run(Path(nb), a.skip_slow)
