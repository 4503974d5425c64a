"""Run every notebook's tests, each notebook in a fresh process (what CI runs).

    python tools/test_nbs.py [--workers 2] [notebook ...]

`nbdev_test --n_workers N` runs many notebooks in each worker process; across notebooks, names defined in earlier
cells of a notebook were seen to vanish in later ones (a NameError that never reproduces alone; cf. nbdev #1287,
process re-use). One `nbdev_test --path` per notebook avoids that at the cost of an import per notebook.
"""
import argparse, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(nb: Path) -> tuple[Path, int, float, str]:
    t0 = time.time()
    p = subprocess.run(["nbdev_test", "--path", str(nb)], cwd=ROOT, capture_output=True, text=True)
    return nb, p.returncode, time.time() - t0, p.stdout + p.stderr


def main() -> int:
    a = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    a.add_argument("--workers", type=int, default=2)
    a.add_argument("notebooks", nargs="*")
    args = a.parse_args()
    nbs = [Path(n) for n in args.notebooks] or sorted((ROOT / "nbs").glob("*.ipynb"))
    start, failed = time.time(), []
    with ThreadPoolExecutor(args.workers) as pool:
        for nb, rc, secs, out in pool.map(run, nbs):
            print(f"{nb.name}: {secs:.0f} s{'' if rc == 0 else '  FAILED'}", flush=True)
            if rc:
                failed.append(nb.name)
                print("\n".join(l for l in out.splitlines() if "Warning" not in l and "warn(" not in l)[-4000:])
    print(f"{len(nbs) - len(failed)} of {len(nbs)} notebooks passed in {time.time() - start:.0f} s")
    if failed: print("failed:", " ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
