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
import argparse, faulthandler, multiprocessing as mp, os, signal, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRELOAD = ["torch", "transformers", "unlearun", "nbdev.test"]


def _test_one(nb: str, out_path: str):
    "In a fresh child: send stdout/stderr to `out_path`, run the notebook's cells as nbdev_test does, exit 0 or 1."
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd, 1), os.dup2(fd, 2)
    sys.stdout.reconfigure(line_buffering=True), sys.stderr.reconfigure(line_buffering=True)
    faulthandler.enable(file=sys.stderr)          # a crash (a signal) still leaves its Python stack in the log
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


def _exit_reason(rc: int) -> str:
    "A child's exit code in words: a failing cell exits 1, a signal gives a negative code."
    if rc < 0:
        try: return f"killed by {signal.Signals(-rc).name}"
        except ValueError: return f"killed by signal {-rc}"
    return "a cell raised" if rc == 1 else f"exit code {rc}"


def _show(out: str):
    noise = ("Warning", "warn(", "Extension modules:")             # faulthandler's module list would hide its stack
    kept = "\n".join(l for l in out.splitlines() if not any(n in l for n in noise))
    print(kept[-4000:] or "(its process printed nothing)", flush=True)


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
    start, failed, crashed = time.time(), [], []
    with ThreadPoolExecutor(args.workers) as pool:
        for nb, rc, secs, out in pool.map(lambda nb: run(ctx, nb), nbs):
            why = "" if rc == 0 else f"  FAILED ({_exit_reason(rc)})"
            print(f"{nb.name}: {secs:.0f} s{why}", flush=True)
            if rc: _show(out)
            if rc and (rc < 0 or not out.strip()): crashed.append(nb)   # the process died: no cell reported an error
            elif rc: failed.append(nb.name)
    # A process that died without a failing cell (a signal, nothing printed) is run once more, alone, and both runs are
    # reported: a cell that raises fails at once, a crash fails only if it happens again.
    for nb in crashed:
        _, rc, secs, out = run(ctx, nb)
        print(f"{nb.name}, rerun alone after its process died: {secs:.0f} s "
              f"{'passed' if rc == 0 else 'FAILED (' + _exit_reason(rc) + ')'}", flush=True)
        if rc: _show(out), failed.append(nb.name)
    print(f"{len(nbs) - len(failed)} of {len(nbs)} notebooks passed in {time.time() - start:.0f} s"
          + (f" ({len(crashed)} rerun after a crash: {' '.join(n.name for n in crashed)})" if crashed else ""))
    if failed: print("failed:", " ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
