"Property-based test: load_data either loads or fails with a clear error that names the set, file, line or index."
import json
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from unlearun.data import load_qa
from unlearun.test_utils import corpus, synthetic_qa, train_tokenizer

TOK = train_tokenizer(corpus(synthetic_qa(4)))
CLEAR = (ValueError, KeyError, TypeError, FileNotFoundError)
TRIED = {"n": 0, "loaded": 0, "refused": 0}

text = st.one_of(st.text(max_size=30), st.text(min_size=300, max_size=600), st.just(""), st.just("   "),
                 st.sampled_from(["Who?", "Ünïcødé ✓ 你好", "a\nb", "\x00"]))
value = st.one_of(text, st.integers(), st.none(), st.floats(allow_nan=True), st.lists(text, max_size=3), st.booleans())
key = st.sampled_from(["question", "answer", "q", "extra", "perturbed_answer", "paraphrased_answer"])
nonblank = st.text(min_size=1, max_size=40).filter(str.strip)
good = st.fixed_dictionaries({"question": nonblank, "answer": nonblank},
                             optional={"extra": value, "perturbed_answer": st.lists(nonblank, min_size=1, max_size=3)})
record = st.one_of(good, good, good, st.dictionaries(key, value, max_size=5),
                   st.fixed_dictionaries({"question": text, "answer": text}),
                   st.integers(), st.lists(st.integers(), max_size=2), st.none())
records = st.lists(record, max_size=6)


def check(source, tmp_path, describe):
    TRIED["n"] += 1
    try:
        qs = load_qa(source, TOK, "forget_data", max_length=64)
    except CLEAR as e:
        msg = str(e)
        assert "forget_data" in msg or str(tmp_path) in msg, f"{describe}: message names neither set nor file: {msg}"
        assert "Traceback" not in msg
        TRIED["refused"] += 1
        return
    # loaded: every record has non-empty string question and answer and at least one answer token
    TRIED["loaded"] += 1
    assert len(qs) > 0
    for r, e in zip(qs.records, qs.examples):
        assert isinstance(r["question"], str) and r["question"].strip()
        assert any(t != -100 for t in e["labels"])


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(recs=records, fmt=st.sampled_from(["array", "jsonl", "list"]))
def test_records_in_any_container(recs, fmt, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("fuzz")
    if fmt == "list":
        return check(recs, tmp_path, f"list {recs!r:.80}")
    p = tmp_path / ("forget.json" if fmt == "array" else "forget.jsonl")
    if fmt == "array":
        p.write_text(json.dumps(recs, ensure_ascii=False), encoding="utf-8")
    else:
        p.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs), encoding="utf-8")
    check(str(p), tmp_path, f"{fmt} {recs!r:.80}")


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.one_of(st.binary(max_size=80),
                     st.builds(lambda s, k: s[:k], st.just(b'[{"question": "Q?", "answer": "A."}, {"question": "R?"}]'),
                               st.integers(0, 55)),
                     st.builds(lambda s, k: s[:k], st.just(b'{"question": "Q?", "answer": "A."}\n{"question": "R?", "answer": "B."}\n'),
                               st.integers(0, 70)),
                     st.just(b'{"question": "Q?", "answer": "A.", "answer": "B."}\n'),
                     st.just(b'\xff\xfe{"question": "Q?"}')),
       suffix=st.sampled_from([".json", ".jsonl", ".txt"]))
def test_raw_bytes(raw, suffix, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("fuzz")
    p = tmp_path / f"forget{suffix}"
    p.write_bytes(raw)
    check(str(p), tmp_path, f"bytes {raw!r:.80}")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="forget_data: file not found"):
        load_qa(str(tmp_path / "nope.json"), TOK, "forget_data")


def test_report_count():
    print(f"\nfuzzed load_data inputs: {TRIED}")
    assert TRIED["n"] >= 200 and TRIED["loaded"] > 0 and TRIED["refused"] > 0
