"The `unlearun` command end to end: a reduced demo, and clean errors with exit code 2."
import json
import subprocess
import sys
import pytest
from unlearun.cli import main
from unlearun.demo import DemoConfig
from unlearun.methods import METHODS
from unlearun.synthetic import make_benchmark

SMALL = ["--people", "16", "--forget-people", "3", "--holdout-people", "3", "--n-layer", "2", "--hidden", "64",
         "--finetune-epochs", "40", "--no-progress"]


def test_demo_every_method_small(tmp_path, capfd):
    "`unlearun demo` as users run it (every method, every metric), on a smaller benchmark and model."
    out = tmp_path / "demo"
    assert main(["demo", "--output-dir", str(out), *SMALL]) == 0
    printed, errors = capfd.readouterr()
    for f in ["report.md", "results.json", "tradeoff_rouge.png", "tradeoff_forget_quality.png", "robustness.png",
              *[f"training_{m}.png" for m in METHODS]]:
        assert (out / f).stat().st_size > 0, f
    res = json.loads((out / "results.json").read_text())
    assert sorted(res["table"]) == sorted(["original", "retain model", *METHODS]), sorted(res["table"])
    for m in METHODS: assert f"| {m} |" in printed, m
    before = res["table"]["original"]["rouge/forget/rougeL_recall"]
    after = res["table"]["grad_diff"]["rouge/forget/rougeL_recall"]
    assert before > 0.8 and after < 0.7 * before                       # the target knew the forget set; now less
    assert "| grad_diff |" in (out / "report.md").read_text()
    # privacy: no forget text (questions, answers, names) in what is printed or reported, and no answer (as written
    # or paraphrased) in any file it wrote, the cached models included
    cfg = DemoConfig(people=16, forget_people=3, holdout_people=3, n_layer=2, hidden=64, finetune_epochs=40)
    forget = make_benchmark(cfg.people, cfg.forget_people, cfg.holdout_people, seed=cfg.seed)["forget"]
    secret = {t for r in forget for t in (r["question"], r["answer"], r["person"])}
    written = printed + errors + (out / "report.md").read_text() + (out / "results.json").read_text()
    assert not [t for t in secret if t in written]
    answers = [t.encode() for r in forget for t in (r["answer"], r["paraphrased_answer"])]
    assert not [p for p in out.rglob("*") if p.is_file() and any(t in p.read_bytes() for t in answers)]


@pytest.mark.parametrize("argv, message", [
    (["run", "--method", "grad_diff", "--model", "./no-such-model", "--forget", "/no/such/forget.json"], "file not found"),
    (["run", "--method", "nope", "--model", "gpt2", "--forget", "f.json"], "unknown method 'nope'"),
    (["eval", "--model", "./no-such-model", "--forget", "/no/such/forget.json"], "file not found"),
    (["demo", "--methods", "nope"], "unknown method(s) ['nope']"),
    (["demo", "--people", "5"], "must be below people (5)"),
])
def test_clean_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_console_script_errors_and_help(tmp_path):
    exe = [sys.executable, "-c", "import sys; from unlearun.cli import main; sys.exit(main())"]
    r = subprocess.run(exe + ["run", "--method", "grad_diff", "--model", str(tmp_path / "m"), "--forget",
                              str(tmp_path / "missing.json")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("unlearun: error:") and "Traceback" not in r.stderr
    for cmd in ([], ["run"]):
        h = subprocess.run(exe + cmd + ["--help"], capture_output=True, text=True)
        assert h.returncode == 0 and "usage: unlearun" in h.stdout
