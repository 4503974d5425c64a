"""Run every notebook's tests, each notebook in a fresh process (what CI runs).

    python tools/test_nbs.py [--workers 2] [notebook ...]

Why not `nbdev_test --n_workers N`: it runs many notebooks in each worker process, and across notebooks names
defined in earlier cells of a notebook were seen to vanish in later ones (a NameError that never reproduces alone;
process re-use). Here every notebook gets a process of its own, forked from a server that has already imported
torch, transformers and unlearun, so a notebook costs its own cells and not ten seconds of imports. Each process gets
its share of the cores: torch's one-thread-per-core default in two processes on two cores made notebooks up to ten
times slower than alone. Cells are run as `nbdev_test` runs them (`nbdev.test.test_nb`, the `tst_flags` of
settings.ini skipped).
"""
import argparse, multiprocessing as mp, os, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRELOAD = ["torch", "transformers", "unlearun", "nbdev.test"]


def _test_one(nb: str, out_path: str):
    "In a fresh child: send stdout/stderr to `out_path`, run the notebook's cells as nbdev_test does, exit 0 or 1."
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1), os.dup2(fd, 2)
    from nbdev.config import get_config
    from nbdev.test import test_nb
    cfg = get_config()
    os.chdir(cfg.nbs_path)
    ok, _ = test_nb(Path(nb), skip_flags=cfg.tst_flags.split(), basepath=cfg.config_path)
    sys.stdout.flush(), sys.stderr.flush()
    sys.exit(0 if ok else 1)


def run(ctx, nb: Path) -> tuple[Path, int, float, str]:
    t0 = time.time()
    with tempfile.NamedTemporaryFile("r", suffix=".log") as log:
        p = ctx.Process(target=_test_one, args=(str(nb), log.name))
        p.start(), p.join()
        return nb, p.exitcode, time.time() - t0, Path(log.name).read_text(errors="replace")


def main() -> int:
    a = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    a.add_argument("--workers", type=int, default=2)
    a.add_argument("notebooks", nargs="*")
    args = a.parse_args()
    nbs = [Path(n).resolve() for n in args.notebooks] or sorted((ROOT / "nbs").glob("*.ipynb"))
    threads = str(max(1, (os.cpu_count() or 1) // args.workers))
    os.environ.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)   # before the server imports torch
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    start, failed = time.time(), []
    with ThreadPoolExecutor(args.workers) as pool:
        for nb, rc, secs, out in pool.map(lambda nb: run(ctx, nb), nbs):
            print(f"{nb.name}: {secs:.0f} s{'' if rc == 0 else '  FAILED'}", flush=True)
            if rc:
                failed.append(nb.name)
                print("\n".join(l for l in out.splitlines() if "Warning" not in l and "warn(" not in l)[-4000:])
    print(f"{len(nbs) - len(failed)} of {len(nbs)} notebooks passed in {time.time() - start:.0f} s")
    if failed: print("failed:", " ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
