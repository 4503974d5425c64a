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


# the demo's output (every file it writes) is checked the same way in test_cli.test_demo_every_method_small


def _pin_forget(s, pin):
    q = "What is the PIN of the vault?"
    return q, [{"question": q, "answer": f"The PIN of the vault is {pin}."}] + [dict(r) for r in s.forget[:3]]


def test_audit_digests_do_not_give_away_a_guessable_record(tmp_path):
    "Before: audit.json held an unsalted SHA-256 of every forget record; a 4-digit PIN was recovered by guessing."
    import hashlib, re
    from unlearun import Unlearning
    from unlearun.test_utils import tiny_setup
    s = tiny_setup("gpt2")
    q, forget = _pin_forget(s, "4821")
    u = Unlearning(method="grad_ascent", model=s.model, tokenizer=s.tokenizer, output_dir=str(tmp_path / "o"), device="cpu")
    u.load_data(forget_data=forget, max_length=128)
    saved = u.save_model(str(tmp_path / "model"))
    digests = set(re.findall(r"[0-9a-f]{64}", "".join(p.read_text() for p in saved.glob("*.json"))))
    def guesses(pin):   # the canonical JSON a per-record digest would be taken of, in either key order
        rec = {"question": q, "answer": f"The PIN of the vault is {pin}."}
        for text in (json.dumps(rec, sort_keys=True, ensure_ascii=False), json.dumps(rec, ensure_ascii=False)):
            yield hashlib.sha256(text.encode()).hexdigest()
    found = [f"{i:04d}" for i in range(10_000) if any(g in digests for g in guesses(f"{i:04d}"))]
    assert found == []
    audit = json.loads((saved / "audit.json").read_text())["what_was_unlearned"]
    assert audit["n_examples"] == 4 and "example_sha256" not in audit and "example_hmac_sha256" not in audit


def test_keyed_audit_lets_the_key_holder_verify_membership(tmp_path):
    "With audit_key= every record gets an HMAC-SHA256 that only the key holder can check; the key is never written."
    from unlearun import Unlearning
    from unlearun.audit import new_audit_key, verify_record, verify_set
    from unlearun.test_utils import tiny_setup
    s = tiny_setup("gpt2")
    q, forget = _pin_forget(s, "4821")
    key = new_audit_key()
    u = Unlearning(method="grad_ascent", model=s.model, tokenizer=s.tokenizer, output_dir=str(tmp_path / "o"), device="cpu")
    u.load_data(forget_data=forget, max_length=128)
    saved = u.save_model(str(tmp_path / "model"), audit_key=key)
    audit = saved / "audit.json"
    assert verify_record(audit, q, "The PIN of the vault is 4821.", key)
    assert not verify_record(audit, q, "The PIN of the vault is 4822.", key)
    assert verify_set(audit, forget) and not verify_set(audit, forget[1:])
    assert not [p for p in saved.rglob("*") if p.is_file() and key.encode() in p.read_bytes()]


def test_cli_audit_key_file(tmp_path, tiny_folder, qa_files):
    "`unlearun run --audit-key-file F`: keyed digests in audit.json, and the key is in no file written."
    from unlearun.audit import new_audit_key, verify_record
    model_dir, s = tiny_folder
    forget, retain = qa_files
    key = new_audit_key()
    (tmp_path / "key.txt").write_text(key + "\n")
    out = tmp_path / "run"
    r = cli("run", "--method", "grad_diff", "--model", model_dir, "--forget", forget, "--retain", retain, "--output-dir",
            out, "--epochs", 1, "--metrics", "perplexity", "--audit-key-file", tmp_path / "key.txt", "--device", "cpu",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    rec = s.forget[0]
    assert verify_record(out / "final_model" / "audit.json", rec["question"], rec["answer"], key)
    assert not [p for p in out.rglob("*") if p.is_file() and key.encode() in p.read_bytes()]
