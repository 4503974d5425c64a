"""Two CPU processes (gloo) against one: `torchrun --nproc_per_node 2 tests/mp_worker.py` (the invocation that works on
CPUs; `accelerate launch --cpu --num_processes 2` starts a single process, see nbs/07_distributed.ipynb)."""
import collections, json, math, os, subprocess, sys
from pathlib import Path
import pytest, torch, yaml

WORKER = Path(__file__).parent / "mp_worker.py"
ROOT = Path(__file__).parents[1]

def _launch(out:Path, nproc:int, batch:int):
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)] if nproc > 1
           else [sys.executable]) + [str(WORKER), str(out), str(batch)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-4000:]
    return [json.loads((out / f"rank{r}_of{nproc}.json").read_text()) for r in range(nproc)]

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("mp")
    one = _launch(d / "one", 1, 8)                # 1 process, batch 8
    two = _launch(d / "two", 2, 4)                # 2 processes, per-device batch 4
    return d, one, two

def test_two_processes_equal_one_with_double_batch(runs):
    d, one, two = runs
    a, b = torch.load(d / "one/weights_1.pt"), torch.load(d / "two/weights_2.pt")
    assert [r["world"] for r in two] == [2, 2] and one[0]["steps"] == two[0]["steps"] == two[1]["steps"] == 4
    from unlearun.test_utils import tiny_setup
    init = tiny_setup("gpt2", n_forget_people=4).model.state_dict()
    assert max((a[k] - init[k]).abs().max().item() for k in a) > 1e-3            # training moved the weights
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6               # ... identically

def test_ranks_draw_different_retain_examples(runs):
    _, _, two = runs
    assert [r["dataset_rank"] for r in two] == [0, 1]
    assert two[0]["retain_draws"] != two[1]["retain_draws"]

def test_every_method_runs_on_two_processes(runs):
    _, one, two = runs
    from unlearun.methods import METHODS
    assert set(two[0]["methods"]) == set(METHODS) | {"grad_diff_kl"}                    # every registered method
    for name, m0 in two[0]["methods"].items():
        m1 = two[1]["methods"][name]
        assert m0["finite"] and m0["changed"] > 0, name
        assert m0["steps"] == m1["steps"] == one[0]["methods"][name]["steps"] // 2, name   # batches are sharded
        assert math.isclose(m0["checksum"], m1["checksum"], rel_tol=1e-9), name         # replicas stay in sync

def test_reference_logps_computed_once_and_shared(runs):
    _, one, two = runs
    assert one[0]["ref_scored"] == 11 and two[0]["ref_scored"] + two[1]["ref_scored"] == 11   # each example once
    assert {two[0]["ref_scored"], two[1]["ref_scored"]} == {5, 6}
    assert two[0]["ref_logps"] == two[1]["ref_logps"]                                      # every process has them all
    assert all(math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-5) for a, b in zip(one[0]["ref_logps"], two[0]["ref_logps"]))

def _flat(x, p=""):
    if isinstance(x, dict): return {k: v for kk, vv in x.items() for k, v in _flat(vv, f"{p}/{kk}").items()}
    if isinstance(x, list): return {k: v for i, vv in enumerate(x) for k, v in _flat(vv, f"{p}[{i}]").items()}
    return {p: x}

def test_evaluate_gathers_every_example_once(runs):
    _, one, two = runs
    seen0, seen1 = collections.Counter(two[0]["seen"]), collections.Counter(two[1]["seen"])
    assert seen0 + seen1 == collections.Counter(one[0]["seen"])          # none dropped, none padded in
    assert not set(seen0) & set(seen1) and max(seen0.values()) == 1 == max(seen1.values())
    assert abs(len(two[0]["seen"]) - len(two[1]["seen"])) <= 4             # the work is split evenly (per kind)

def test_evaluate_matches_single_process(runs):
    _, one, two = runs
    f1, f2, f3 = _flat(one[0]["eval"]), _flat(two[0]["eval"]), _flat(two[1]["eval"])
    assert f1.keys() == f2.keys() == f3.keys()
    for k, v in f1.items():
        if isinstance(v, float): assert (math.isnan(v) and math.isnan(f2[k])) or math.isclose(v, f2[k], rel_tol=1e-4, abs_tol=1e-6), k
        else: assert v == f2[k], k
    assert f2 == f3                                                           # every process gets the full results

@pytest.mark.parametrize("cfg", sorted((ROOT / "configs/accelerate").glob("*.yaml")), ids=lambda p: p.name)
def test_accelerate_configs_parse(cfg):
    from accelerate.commands.config.config_args import load_config_from_file
    c = load_config_from_file(str(cfg))
    assert c.num_processes >= 1 and str(c.distributed_type) != "NO"


def test_evaluating_while_training_on_two_processes(runs):
    _, one, two = runs
    a, b, c = one[0]["select"], two[0]["select"], two[1]["select"]
    assert a["steps"] == b["steps"] == c["steps"] and b["best"] == c["best"]             # the same decisions
    assert b["best"]["step"] == a["best"]["step"]                                     # as one process
    assert all(math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-6) for x, y in zip(a["utility"], b["utility"]))
    assert math.isclose(b["checksum"], c["checksum"], rel_tol=1e-9)                   # replicas hold the same weights
