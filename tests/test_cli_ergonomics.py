"""What a user of the command line sees: every default in the help, one number format in the tables, a search
that finds nothing says why, and ``make lab`` runs as root with extra arguments."""

import argparse
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from costmodel import display
from costmodel.cli import SUBCOMMANDS, build_parser, main
from costmodel.search_views import display_table, format_table

ROOT = Path(__file__).resolve().parents[1]


def subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


@pytest.mark.parametrize("name", [m.__name__.rsplit(".", 1)[1] for m in SUBCOMMANDS])
def test_help_shows_every_default(name):
    sub = subparsers()[name]
    text = " ".join(sub.format_help().split())
    for action in sub._actions:
        if action.default in (None, argparse.SUPPRESS) or action.required or not action.option_strings:
            continue
        shown = "off" if action.default is False else str(action.default)
        flag = action.option_strings[-1]
        assert f"(default: {shown})" in text.split(flag, 1)[1], f"{name} {flag}: default {shown!r} not in the help"


def test_help_of_a_subcommand_exits_zero(capsys):
    with pytest.raises(SystemExit) as info:
        main(["search", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # help wraps its lines
    assert info.value.code == 0 and "(default: 512 with --batch, 64 for the serving search)" in shown


# --- one number format ------------------------------------------------------------------------------
NUMBER = re.compile(r"^(—|-?[\d,]+(\.\d+)?(e[+-]\d+)?)$")


def numbers_have_three_significant_digits(cell: str) -> bool:
    """A cell of display.cell: a dash, a whole number, or 3 significant digits (trailing zeros kept)."""
    if cell == display.EMPTY or "e" in cell:
        return True
    digits = cell.replace(",", "").replace("-", "").lstrip("0.").replace(".", "")
    return "." not in cell or len(digits) == 3


def test_estimate_table_uses_the_display_format(capsys):
    main(["estimate", "--model", "qwen3-235b-a22b", "--hardware", "h100-sxm", "--tp", "8", "--dp", "1", "--pp",
          "1", "--ep", "8", "--batch", "64", "--input-len", "2048", "--output-len", "1024"])
    lines = capsys.readouterr().out.splitlines()[2:15]  # name, scenario, 13 rows, violations
    assert lines[-1].startswith("tokens/s per user")
    for line in lines:
        value = re.split(r"\s{2,}", line.strip())[1]
        assert NUMBER.match(value) and numbers_have_three_significant_digits(value), line


def test_search_table_uses_the_display_format(capsys):
    main(["search", "--model", "seed-moe-10b", "--hardware", "seed-gpu", "--batch", "128", "--input-len", "2048",
          "--output-len", "2048", "--max-gpus", "16", "--top", "3"])
    text = capsys.readouterr().out
    header = next(line for line in text.splitlines() if line.startswith("plan "))
    assert re.split(r"\s{2,}", header)[:4] == ["plan", "GPUs", "memory/GPU (GB)", "TTFT (s)"]
    block = text.split("\n\n")[1].splitlines()[2:]  # best 3: title, header, rows
    assert len(block) == 3
    for line in block:
        cells = re.split(r"\s{2,}", line.strip())
        assert "·" in cells[0] or cells[0] == "TP1"
        for value in cells[1:-1]:
            assert NUMBER.match(value) and numbers_have_three_significant_digits(value), line


def test_display_table_of_search_rows():
    rows = pd.DataFrame([{"tp": 4, "dp": 4, "pp": 1, "ep": 16, "etp": 1, "microbatches": 1, "batch": 128,
                          "gpus_total": 16, "memory_bytes_per_gpu": 5.152919e9, "ttft_s": 0.1234567,
                          "decode_step_s": 0.0059876, "output_tokens_per_s_per_gpu": 489554.454,
                          "input_tokens_per_s_per_gpu": float("nan"), "tokens_per_s_per_user": 167.0,
                          "warnings": ""}])
    out = display_table(rows)
    # full precision inside, in the headings' units (GB, ms) ...
    assert out["memory/GPU (GB)"].iloc[0] == pytest.approx(5.152919) and out["TPOT (ms)"].iloc[0] == 5.9876
    # ... shown as the issue asks: 5.152919 GB -> 5.15, 489554.454 tokens/s -> 490,000, NaN and '' -> a dash
    assert isinstance(out, display.ReaderTable) and "<table" in out._repr_html_()
    assert display.table(out).iloc[0].to_dict() == {"plan": "TP4·DP4·EP16", "GPUs": "16", "memory/GPU (GB)": "5.15",
                                     "TTFT (s)": "0.123", "TPOT (ms)": "5.99", "output tok/s/GPU": "490,000",
                                     "input tok/s/GPU": "—", "tok/s/user": "167", "warnings": "—"}
    text = format_table(rows).splitlines()
    assert text[1].startswith("TP4·DP4·EP16  ") and text[1].endswith("—")


def test_text_table_aligns_left_and_right():
    frame = pd.DataFrame({"plan": ["TP1", "TP8·EP8"], "GPUs": ["1", "8"], "note": ["a", "—"]})
    assert display.text_table(frame, left=("plan", "note")).splitlines() == [
        "plan     GPUs  note",
        "TP1         1  a",
        "TP8·EP8     8  —"]


# --- a search that finds nothing ----------------------------------------------------------------------
def test_search_without_a_plan_names_the_binding_constraint_and_the_closest_plan(capsys):
    code = main(["search", "--model", "qwen3-235b-a22b", "--hardware", "h100-sxm", "--batch", "128",
                 "--input-len", "2048", "--output-len", "2048", "--max-gpus", "64", "--ttft-max", "0.5",
                 "--min-tokens-per-s-per-gpu", "2000"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and lines[2] == "no plan meets the requirements"
    assert re.fullmatch(r"binding constraint: (ttft_max_s|min_tokens_per_s_per_gpu), the only rule or requirement "
                        r"that [\d,]+ plans fail", lines[3])
    assert re.fullmatch(r"closest plan: \S+ on [\d,]+ GPUs: .*% (over|short)\)", lines[4])


def test_search_without_a_valid_plan(capsys):
    main(["search", "--model", "qwen3-235b-a22b", "--hardware", "seed-gpu", "--batch", "128", "--input-len",
          "2048", "--output-len", "2048", "--max-gpus", "2"])
    out = capsys.readouterr().out
    assert "binding constraint: memory_exceeds_capacity" in out
    assert "closest plan: none, every plan breaks a rule" in out


# --- make lab ---------------------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_lab_passes_arguments_and_allows_root():
    # -n prints the commands without running them (no server is started)
    r = subprocess.run(["make", "-n", "lab", "ARGS=--no-browser --port 8899"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if "jupyter lab" in x)
    words = line.split()
    assert words[:3] == [".venv/bin/jupyter", "lab", "notebooks/"] and words[-3:] == ["--no-browser", "--port", "8899"]
    assert ("--allow-root" in words) == (os.getuid() == 0)


# --- the overview and validation tables ----------------------------------------------------------------
def test_catalog_tables_keep_precision_and_show_three_digits():
    import costmodel as cm

    hw = cm.catalog.hardware_table()
    a100 = hw[hw["id"] == "a100-sxm-80gb"].iloc[0]
    assert a100["HBM (GB)"] == cm.load_hardware("a100-sxm-80gb").memory_bytes / 1e9  # not rounded in the table
    shown = display.table(hw)
    assert shown.loc[hw["id"] == "a100-sxm-80gb", "dense FP8 (TFLOP/s)"].iloc[0] == "—"  # A100: no FP8 units
    for frame in (hw, cm.catalog.model_table()):
        assert isinstance(frame, display.ReaderTable) and "NaN" not in frame._repr_html_()
        numeric = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
        for value in display.table(frame[numeric]).to_numpy().ravel():
            assert NUMBER.match(value) and numbers_have_three_significant_digits(value), value


def test_validation_tables_show_for_readers():
    from costmodel import validation as val

    predictions = pd.DataFrame({"split": ["held-out"] * 3, "group": [val.GROUPS[0]] * 3,
                                "hardware": ["h100-sxm"] * 3, "ape": [0.1, 0.123456, 0.5]})
    errors = val.error_table(predictions)
    assert isinstance(errors, display.ReaderTable)
    # median of 0.1, 0.123456, 0.5 is 0.123456: 12.3456 % shown as 12.3
    assert errors["median_ape_pct"].iloc[0] == pytest.approx(12.3456)
    assert display.table(errors)["median_ape_pct"].iloc[0] == "12.3"
