"""Execute notebooks and store their outputs: what the documentation site shows.

    python tools/run_nb.py nbs/11_methods.grad_diff.ipynb nbs/12_methods.npo.ipynb   # every cell, slow ones too
    python tools/run_nb.py --skip-slow nbs/*.ipynb                                    # leave slow cells' outputs
    python tools/run_nb.py --images-only nbs/*.ipynb                                  # re-encode stored figures

Figures are stored as plain PNG at their own size (not retina: no width/height that halves them on the page), as
256-colour palette PNGs, a third of the bytes of matplotlib's RGBA and the same to the eye. Progress bars written to
stderr are dropped, and so are warnings raised inside installed packages; the library's own warnings name its files
relative to the checkout. An output that still shows a path of this machine (a home, /tmp or the checkout) stops the
run: stored outputs must read the same on any machine. Run `nbdev_clean` afterwards.
"""
import argparse, base64, io, os, re, sys
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


WIDGET = "application/vnd.jupyter.widget-view+json"
# A warning raised inside an installed package (peft, transformers deprecations): its location line names this
# machine's site-packages, and it is about that package, not about what the page shows. The line after it is the
# source line Python prints with every warning.
THIRD_PARTY_WARNING = re.compile(r"^[^\n]*site-packages/[^\n]*:\d+: \w*Warning: [^\n]*\n(?:[ \t]+[^\n]*\n)?", re.M)


def _clean_outputs(cell):
    keep = []
    for o in cell.get("outputs", []):
        if WIDGET in o.get("data", {}): continue     # no saved widget state: a static page would show an empty box
        if o.get("output_type") == "stream" and o.get("name") == "stderr":
            # the library's own warnings name its files relative to the checkout, as on any machine
            text = THIRD_PARTY_WARNING.sub("", "".join(o["text"])).replace(f"{ROOT}/", "")
            lines = [l for l in text.splitlines(True) if not PROGRESS.search(l)]
            if not "".join(lines).strip(): continue
            o["text"] = "".join(lines)
        keep.append(o)
    cell["outputs"] = keep


def shrink_images(nb) -> int:
    "Store every PNG output at its own size as a palette PNG; returns the bytes saved."
    from PIL import Image
    saved = 0
    for c in nb.cells:
        for o in c.get("outputs", []):
            data = o.get("data", {})
            if "image/png" not in data: continue
            o.get("metadata", {}).pop("image/png", None)                  # retina's halved width / height
            raw = base64.b64decode("".join(data["image/png"]))
            im = Image.open(io.BytesIO(raw))
            if im.mode == "P" or (im.mode == "RGBA" and im.getextrema()[3][0] < 255): continue   # done, or see-through
            buf = io.BytesIO()
            im.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
                buf, "PNG", optimize=True)
            if len(buf.getvalue()) < len(raw):
                data["image/png"] = base64.b64encode(buf.getvalue()).decode() + "\n"
                saved += len(raw) - len(buf.getvalue())
    return saved


def check_paths(nb, path):
    bad, found = machine_paths(), []
    for i, c in enumerate(nb.cells):
        for o in c.get("outputs", []):
            text = "".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
            found += [f"  cell {i}: {l.strip()[:160]}" for l in text.splitlines() if any(p in l for p in bad)]
    if found: sys.exit(f"{path}: outputs show paths of this machine; fix these cells:\n" + "\n".join(found))


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
    shrink_images(nb)
    check_paths(nb, path)
    write_nb(nb, path)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--skip-slow", action="store_true", help="do not run slow cells; keep their stored outputs")
    p.add_argument("--images-only", action="store_true", help="run nothing; re-encode the stored figures")
    a = p.parse_args()
    for nb in a.notebooks:
        if a.images_only:
            book = read_nb(nb); saved = shrink_images(book); write_nb(book, nb)
            if saved: print(f"{nb}: {saved / 1e3:.0f} kB saved")
            continue
        print(f"running {nb}", flush=True)
        run(Path(nb), a.skip_slow)
