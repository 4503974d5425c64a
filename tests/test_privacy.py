"Forget-set text never leaks: a unique canary in the forget set is searched in everything written and printed."
import json, os, subprocess, sys
from pathlib import Path
import pytest

CANARY = "Zqxv-canary-7Y3pW"
ENV = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}


def cli(*args, cwd):
    exe = Path(sys.executable).parent / "unlearun"                  # the console script pip installed
    return subprocess.run([str(exe), *map(str, args)], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=600)


def leaked(texts, folders):
    "Every place (printed output or file) that contains one of `texts`."
    found = []
    for name, out in folders.get("printed", {}).items():
        found += [f"{name}: {t[:20]}" for t in texts if t in out]
    for root in folders.get("dirs", []):
        for p in Path(root).rglob("*"):
            if p.is_file():
                data = p.read_bytes()
                found += [f"{p}: {t[:20]}" for t in texts if t.encode() in data]
    return found


@pytest.fixture(scope="module")
def canary_files(tmp_path_factory, tiny_folder):
    d = tmp_path_factory.mktemp("canary")
    model_dir, s = tiny_folder
    forget = [dict(r) for r in s.forget]
    forget[0] = {**forget[0], "answer": f"{forget[0]['answer'][:-1]} {CANARY}."}
    (d / "forget.json").write_text("\n".join(json.dumps(r) for r in forget))
    (d / "retain.json").write_text(json.dumps(s.retain))
    (d / "holdout.json").write_text(json.dumps(s.holdout))
    return d, model_dir, forget


def test_cli_run_and_eval_never_print_or_write_forget_text(canary_files):
    d, model_dir, forget = canary_files
    out = d / "run"
    r = cli("run", "--method", "grad_diff", "--model", model_dir, "--forget", d / "forget.json", "--retain",
            d / "retain.json", "--holdout", d / "holdout.json", "--output-dir", out, "--epochs", 1, "--lr", 1e-3,
            "--device", "cpu", cwd=d)
    assert r.returncode == 0, r.stderr[-3000:]
    e = cli("eval", "--model", out / "final_model", "--forget", d / "forget.json", "--retain", d / "retain.json",
            "--output", d / "eval.json", "--device", "cpu", cwd=d)
    assert e.returncode == 0, e.stderr[-3000:]
    texts = [CANARY] + [t for rec in forget for t in (rec["question"], rec["answer"])]
    where = leaked(texts, {"printed": {"run stdout": r.stdout, "run stderr": r.stderr, "eval stdout": e.stdout,
                                       "eval stderr": e.stderr}, "dirs": [out, d / "eval.json"]})
    assert not where, where
    # the canary is really in the data: a file the user gave does contain it
    assert CANARY in (d / "forget.json").read_text()


def test_errors_never_echo_forget_text(tmp_path, tiny_folder):
    model_dir, _ = tiny_folder
    bad = tmp_path / "forget.json"
    bad.write_text(json.dumps([{"question": CANARY, "answer": 12345}]))
    r = cli("run", "--method", "grad_ascent", "--model", model_dir, "--forget", bad, "--output-dir", tmp_path / "o",
            "--device", "cpu", cwd=tmp_path)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "item 0" in r.stderr and "must be a string" in r.stderr        # names the record and the problem
    assert CANARY not in r.stderr + r.stdout and "12345" not in r.stderr + r.stdout


# the demo's output is checked the same way in test_cli.test_demo_every_method_small
