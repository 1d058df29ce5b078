"""The Python API as a notebook uses it: ids and plan strings, a readable Estimate, ``cm.search`` callable,
and the package's own error for every bad argument."""

import re

import pytest
from bs4 import BeautifulSoup

import costmodel as cm
from costmodel.display import sig
from costmodel.report import ESTIMATE_ROWS

WL = cm.Workload(128, 2048, 1024, "fp8", "fp8")


@pytest.fixture(scope="module")
def qwen():
    return cm.estimate("qwen3-235b-a22b", "h100-sxm", "tp=8,ep=8", WL)


def test_ids_and_plan_strings_give_the_same_estimate_as_objects(qwen):
    objects = cm.estimate(cm.load_model("qwen3-235b-a22b"), cm.load_hardware("h100-sxm"), cm.Plan(tp=8, ep=8), WL)
    assert qwen.metrics == objects.metrics and qwen.violations == objects.violations
    assert qwen.plan == cm.Plan(tp=8, ep=8)


def test_repr_is_one_short_line(qwen):
    text = repr(qwen)
    x = qwen.metrics
    assert qwen.valid and text == (f"Estimate(qwen3-235b-a22b on 8 x h100-sxm, TP8·EP8, TTFT {sig(x['ttft_s'])} s, "
                                   f"TPOT {sig(x['decode_step_s'] * 1e3)} ms, {sig(x['output_tokens_per_s_per_gpu'])}"
                                   " output tok/s/GPU, fits)")
    assert re.fullmatch(r"Estimate\(\S+ on [\d,]+ x \S+, \S+, TTFT [\d.,e+-]+ s, TPOT [\d.,e+-]+ ms, [\d.,e+-]+ "
                        r"output tok/s/GPU, (fits|invalid: [a-z_, ]+)\)", text)
    assert "\n" not in text and len(text) < 160


def test_repr_names_the_broken_rules():
    # 235 B parameters in bf16 (470 GB) on one 85.5 GB H100 cannot fit
    e = cm.estimate("qwen3-235b-a22b", "h100-sxm", "tp=1", cm.Workload(1, 8, 8))
    assert repr(e).endswith("invalid: memory_exceeds_capacity)")


def test_html_is_a_deterministic_table_of_every_quantity(qwen):
    page = qwen._repr_html_()
    assert page == cm.estimate("qwen3-235b-a22b", "h100-sxm", "tp=8,ep=8", WL)._repr_html_()
    soup = BeautifulSoup(page, "html.parser")
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in soup.select("table tbody tr")]
    assert [r[0] for r in rows] == [name for name, _, _, _ in ESTIMATE_ROWS]
    weights = dict((r[0], r[1]) for r in rows)["weights per GPU"]
    assert weights == sig(qwen.metrics["weight_bytes_per_gpu"] / 1e9)
    assert "id=" not in page and "<style" not in page  # no Styler: its random ids break nbval
    assert "qwen3-235b-a22b on 8 x h100-sxm, TP8·EP8" in soup.p.get_text()


def test_metrics_are_attributes_listed_by_dir(qwen):
    assert set(qwen.metrics) <= set(dir(qwen))
    assert qwen.ttft_s == qwen.metrics["ttft_s"] and "valid" in dir(qwen) and "as_dict" in dir(qwen)
    with pytest.raises(AttributeError):
        qwen.no_such_metric


def test_search_is_callable_and_the_module_stays_reachable():
    from costmodel.search import SearchResult, enumerate_plans  # the submodule by name

    r = cm.search("qwen3-30b-a3b", "h100-sxm", cm.Workload(8, 128, 128), 8)
    assert isinstance(r, SearchResult) and r.plans_evaluated > 0
    assert cm.plansearch.enumerate_plans is enumerate_plans and cm.plansearch.search is cm.search
    same = cm.search(cm.load_model("qwen3-30b-a3b"), cm.load_hardware("h100-sxm"), cm.Workload(8, 128, 128), 8)
    assert same.plans.equals(r.plans)


@pytest.mark.parametrize("call, field", [
    (lambda: cm.estimate("gpt-5", "h100-sxm", "tp=8", WL), "model"),
    (lambda: cm.estimate(42, "h100-sxm", "tp=8", WL), "model"),
    (lambda: cm.estimate("qwen3-235b-a22b", "tpu-v5", "tp=8", WL), "hardware"),
    (lambda: cm.estimate("qwen3-235b-a22b", None, "tp=8", WL), "hardware"),
    (lambda: cm.estimate("qwen3-235b-a22b", "h100-sxm", "tp=eight", WL), "plan"),
    (lambda: cm.estimate("qwen3-235b-a22b", "h100-sxm", {"tp": 8}, WL), "plan"),
    (lambda: cm.estimate("qwen3-235b-a22b", "h100-sxm", "tp=8", (128, 2048, 1024)), "workload"),
    (lambda: cm.estimate("qwen3-235b-a22b", "h100-sxm", "tp=8", WL, 0.6), "efficiency"),
    (lambda: cm.estimate("qwen3-235b-a22b", "h100-sxm", "tp=8", WL, "fast"), "efficiency"),
    (lambda: cm.estimate("qwen3-235b-a22b", "h100-sxm", "tp=8", WL, mfu=float("nan")), "mfu"),
    (lambda: cm.estimate("qwen3-235b-a22b", "h100-sxm", "tp=8", WL, bw_util=0), "bw_util"),
    (lambda: cm.estimate("qwen3-235b-a22b", "h100-sxm", "tp=8", WL, overlap="yes"), "overlap"),
    (lambda: cm.estimate("qwen3-235b-a22b", "h100-sxm", "tp=8", WL, reserved_bytes=float("nan")),
     "reserved_bytes"),
    (lambda: cm.estimate("qwen3-235b-a22b", "h100-sxm", "tp=8", WL, reserved_bytes=-1), "reserved_bytes"),
    (lambda: cm.search("qwen3-235b-a22b", "h100-sxm", WL, 2**63), "max_gpus"),
    (lambda: cm.search("qwen3-235b-a22b", "h100-sxm", WL, float("nan")), "max_gpus"),
    (lambda: cm.search("qwen3-235b-a22b", "h100-sxm", WL, 8, ttft_max_s=float("nan")), "ttft_max_s"),
    (lambda: cm.search("qwen3-235b-a22b", "h100-sxm", WL, 8, min_tokens_per_s_per_gpu=float("inf")),
     "min_tokens_per_s_per_gpu"),
    (lambda: cm.search("qwen3-235b-a22b", "h100-sxm", WL, 8, min_tokens_per_s_per_user="fast"),
     "min_tokens_per_s_per_user"),
    (lambda: cm.search("qwen3-235b-a22b", "h100-sxm", WL, 8, degrees=[1, 2]), "degrees"),
    (lambda: cm.search("qwen3-235b-a22b", "h100-sxm", WL, 8, degrees={"tp": 8}), "degrees['tp']"),
    (lambda: cm.search("qwen3-235b-a22b", "h100-sxm", WL, 8, degrees={"tp": [2**40]}), "degrees['tp']"),
    (lambda: cm.search("qwen3-235b-a22b", "h100-sxm", WL, 8, batches=[float("nan")]), "batches"),
    (lambda: cm.search("qwen3-235b-a22b", "h100-sxm", WL, 8, batches="128"), "batches"),
    (lambda: cm.search("qwen3-235b-a22b", "h100-sxm", WL, 8, overlap=None), "overlap"),
    (lambda: cm.search(None, "h100-sxm", WL, 8), "model"),
])
def test_bad_arguments_raise_the_packages_error_naming_the_field(call, field):
    with pytest.raises(cm.CostModelError) as info:
        call()
    message = str(info.value)
    assert message.startswith(f"{field}: ") and "\n" not in message


# --- a search that finds nothing --------------------------------------------------------------------
def test_why_none_without_a_valid_plan_names_memory():
    # 235 B parameters: bf16 weights are 470 GB, more than 2 x 64 GB; every plan fails only on memory
    r = cm.search("qwen3-235b-a22b", "seed-gpu", cm.Workload(128, 2048, 2048), 2)
    why = r.why_none()
    assert why["binding"] == "memory_exceeds_capacity" and why["fewest"] == 1
    assert why["binding_plans"] == r.plans_evaluated and why["closest"] is None


def test_why_none_with_one_requirement_gives_the_fastest_valid_plan():
    # only a TTFT limit, set below every plan's TTFT: each valid plan fails that requirement alone, so it binds
    # for all of them, and the closest plan is the valid plan of the lowest TTFT, over the limit by t / limit - 1
    base = cm.search("seed-moe-10b", "seed-gpu", cm.Workload(64, 1024, 128), 8)
    valid = base.plans[base.plans["valid"]]
    limit = valid["ttft_s"].min() / 2
    r = cm.search("seed-moe-10b", "seed-gpu", cm.Workload(64, 1024, 128), 8, ttft_max_s=limit)
    why = r.why_none()
    assert why["binding"] == "ttft_max_s" and why["binding_plans"] == len(valid) and why["fewest"] == 1
    assert why["closest"]["ttft_s"] == valid["ttft_s"].min()
    assert why["misses"] == {"ttft_max_s": pytest.approx(1.0)}  # twice the limit: 100 % over


def test_why_none_is_none_when_a_plan_is_feasible():
    assert cm.search("seed-moe-10b", "seed-gpu", cm.Workload(64, 1024, 128), 8).why_none() is None


def test_binding_constraint_is_the_one_that_alone_rules_out_the_most_plans():
    # two requirements; count, over the valid plans, those that miss exactly one of them: the binding one is
    # the requirement missed alone by more plans
    wl = cm.Workload(64, 1024, 128)
    base = cm.search("seed-moe-10b", "seed-gpu", wl, 16)
    v = base.plans[base.plans["valid"]]
    # a floor just above the per-user speed of every plan that meets the TTFT limit: no plan meets both
    ttft = v["ttft_s"].quantile(0.3)
    user = v.loc[v["ttft_s"] <= ttft, "tokens_per_s_per_user"].max() * 1.01
    r = cm.search("seed-moe-10b", "seed-gpu", wl, 16, ttft_max_s=ttft, min_tokens_per_s_per_user=user)
    assert not r.plans["feasible"].any()
    slow, sluggish = v["ttft_s"] > ttft, v["tokens_per_s_per_user"] < user
    alone = {"ttft_max_s": int((slow & ~sluggish).sum()), "min_tokens_per_s_per_user": int((sluggish & ~slow).sum())}
    why = r.why_none()
    assert why["fewest"] == 1 and why["binding_plans"] == max(alone.values())
    assert alone[why["binding"]] == max(alone.values())
