"""Hostile and unusual --hf-config input: every case is one CostModelError naming the file or the key."""

import json
import math
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import costmodel as cm
from costmodel.hf_config import BOUNDS, MAX_CONFIG_BYTES, decoder_config, parse_config_bytes, read_config_file

BASE = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 100, "intermediate_size": 128}
MOE = {**BASE, "num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 32}


def one_line_error(arg, match):
    with pytest.raises(cm.CostModelError, match=match) as info:
        cm.model_from_hf_config(arg)
    assert "\n" not in str(info.value)
    return str(info.value)


# --- the file ----------------------------------------------------------------------------------
def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(bytes(range(256)) * 4)
    one_line_error(path, r"model.safetensors.* is not UTF-8, UTF-16 or UTF-32 text \(a binary file\?\)")


def test_binary_file_that_decodes_is_refused_for_its_nul_bytes(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"{\x00\x00\x00\x00\x01}")
    one_line_error(path, "blob")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_utf16_utf32_and_bom_files_are_read(tmp_path, encoding):
    # "utf-16" and "utf-32" write a byte-order mark; "-le" / "-be" do not (detected from the NUL pattern)
    path = tmp_path / "config.json"
    path.write_bytes(json.dumps(BASE).encode(encoding))
    assert cm.model_from_hf_config(path).num_layers == 2


@pytest.mark.parametrize("text, key, why", [
    ('{"hidden_size": NaN}', "hidden_size", "finite"),
    ('{"hidden_size": Infinity}', "hidden_size", "finite"),
    ('{"hidden_size": -Infinity}', "hidden_size", "finite"),
    ('{"hidden_size": -64}', "hidden_size", "out of range: a whole number from 1 to 1,048,576"),
    ('{"num_hidden_layers": 1e30}', "num_hidden_layers", "out of range: a whole number from 1 to 10,000"),
    ('{"num_hidden_layers": 1' + "0" * 400 + "}", "num_hidden_layers", "out of range"),
    ('{"hidden_size": true}', "hidden_size", "must be a whole number"),
    ('{"hidden_size": 64.5}', "hidden_size", "must be a whole number"),
    ('{"hidden_size": "64"}', "hidden_size", "must be a whole number"),
    ('{"vocab_size": 1e9}', "vocab_size", "from 0 to 16,777,216"),
])
def test_absurd_values_are_refused_with_their_bound(tmp_path, text, key, why):
    body = json.dumps({k: v for k, v in BASE.items() if k != key})[:-1] + ", " + text[1:]
    path = tmp_path / "config.json"
    path.write_text(body)
    message = one_line_error(path, f"'{key}'")
    assert why in message


def test_every_bounded_key_states_its_bound():
    # the bound table is what messages quote; each key has a least and a greatest value
    assert all(isinstance(lo, int) and lo < hi for lo, hi in BOUNDS.values())
    assert BOUNDS["num_hidden_layers"] == (1, 10_000)


def test_dev_zero_is_refused_at_once():
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    one_line_error("/dev/zero", r"'/dev/zero' is not a regular file")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # opening it would wait for a writer forever
    one_line_error(fifo, "not a regular file")


def test_a_huge_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as f:  # sparse: 5 MiB of size, no disk used
        f.truncate(MAX_CONFIG_BYTES + 2**20)
    one_line_error(path, r"has 5,242,880 bytes; a config.json is at most 4 MiB")


@pytest.mark.parametrize("arg, match", [
    ("", r"the path is empty"),
    ("   ", r"the path is empty"),
])
def test_empty_path(arg, match):
    one_line_error(arg, match)


def test_directory_with_and_without_a_config_inside(tmp_path):
    one_line_error(tmp_path, r"is a directory, not a config.json file$")
    (tmp_path / "config.json").write_text(json.dumps(BASE))
    one_line_error(tmp_path, r"is a directory, not a config.json file; did you mean '.*config.json'\?")


def test_missing_file_and_unusable_path(tmp_path):
    one_line_error(tmp_path / "missing.json", r"cannot read '.*missing.json' \(No such file or directory\)")
    one_line_error("bad\x00path", "is not a usable path")


@pytest.mark.parametrize("raw, match", [
    (b"", "is empty"),
    (b"  \n", "is empty"),
    (b"[1, 2]", "holds a JSON list, not an object"),
    (b'"config"', "holds a JSON str, not an object"),
    (b"{not json", r"is not valid JSON \(Expecting property name"),
    (b"[" * 100_000 + b"]" * 100_000, r"nested too deeply|not valid JSON"),
])
def test_malformed_json(raw, match):
    with pytest.raises(cm.CostModelError, match=match):
        parse_config_bytes(raw)


def test_other_argument_types():
    with pytest.raises(cm.CostModelError, match="expected a path or a dict, got list"):
        cm.model_from_hf_config([BASE])


# --- the keys ------------------------------------------------------------------------------------
def test_zero_experts_per_token_is_not_called_missing():
    message = one_line_error({**MOE, "num_experts_per_tok": 0}, "'num_experts_per_tok'")
    assert "missing" not in message and "0 is not allowed" in message and "8 routed experts" in message
    assert "missing key" in one_line_error({k: v for k, v in MOE.items() if k != "num_experts_per_tok"},
                                           "'num_experts_per_tok'")


def test_boolean_hidden_size_names_hidden_size_not_head_dim():
    message = one_line_error({**BASE, "hidden_size": True}, "'hidden_size'")
    assert "head_dim" not in message and "= true" in message


@pytest.mark.parametrize("cfg, match", [
    ({**BASE, "num_key_value_heads": 0}, "'num_key_value_heads' = 0 is out of range"),
    ({**BASE, "num_key_value_heads": 8}, "'num_key_value_heads' = 8 must divide 'num_attention_heads' = 4"),
    ({**BASE, "tie_word_embeddings": "false"}, "'tie_word_embeddings' = \"false\" must be true or false"),
    ({**BASE, "model_type": 7}, "'model_type' = 7 must be a string"),
    ({**MOE, "mlp_only_layers": "0"}, "'mlp_only_layers' = \"0\" must be a list of whole numbers from 0 to 1"),
    ({**MOE, "mlp_only_layers": [5]}, "'mlp_only_layers'"),
    ({**MOE, "decoder_sparse_step": 0}, "'decoder_sparse_step' = 0 is out of range"),
    ({**MOE, "first_k_dense_replace": 3}, "'first_k_dense_replace' = 3 exceeds the 2 layers"),
    ({**MOE, "num_experts_per_tok": 9}, "'num_experts_per_tok' = 9 exceeds the 8 routed experts"),
    ({**BASE, "layer_types": ["full_attention"]}, "'layer_types' must be a list of 2 entries"),
    ({**BASE, "layer_types": ["full_attention", "linear_attention"]}, "'layer_types' has \"linear_attention\""),
    ({**BASE, "layer_types": [["full_attention"], None]}, r"'layer_types' has \[\"full_attention\"\], null"),
    ({**BASE, "layer_types": ["sliding_attention"] * 2}, "missing key 'sliding_window'"),
    ({**BASE, "rope_scaling": "yarn"}, "'rope_scaling' = \"yarn\" must be an object or null"),
    ({**BASE, "rope_scaling": {"factor": math.nan, "original_max_position_embeddings": 4096}},
     "'rope_scaling.factor' = NaN must be a number"),
    ({**BASE, "rope_scaling": {"factor": 1000, "original_max_position_embeddings": 2**29}},
     "'rope_scaling.factor' = 1000 times 536,870,912 positions exceeds"),
    ({**BASE, "intermediate_size": None}, "missing key 'intermediate_size'"),
    ({"hidden_size": 64}, r"missing key 'num_hidden_layers' \(not at the top level nor under 'text_config'"),
])
def test_bad_keys_name_the_key(cfg, match):
    one_line_error(cfg, match)


def test_wrapped_config_errors_name_the_nested_key():
    one_line_error({"text_config": {**BASE, "hidden_size": math.nan}}, r"'text_config.hidden_size' = NaN")


def test_wrappers_are_found_in_order_and_the_top_level_wins():
    inner = {**BASE, "num_hidden_layers": 3}
    assert decoder_config({"language_config": inner})[1] == "language_config."
    assert decoder_config({"llm_config": inner, "text_config": "not a dict"})[1] == "llm_config."
    assert decoder_config({**BASE, "text_config": inner}) == ({**BASE, "text_config": inner}, "")
    m = cm.model_from_hf_config({"model_type": "llava", "text_config": inner, "vision_config": {"hidden_size": 9}})
    assert m.num_layers == 3 and "vision encoder is not counted" in m.notes[0]


def test_read_config_file_returns_the_object(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(BASE))
    assert read_config_file(str(path)) == BASE
    assert read_config_file(os.fsencode(path)) == BASE


# --- the CLI path: exit 2 and one line, quickly ------------------------------------------------
@pytest.mark.parametrize("make_arg", [
    lambda tmp: "",
    lambda tmp: str(tmp),
    lambda tmp: "/dev/zero",
    lambda tmp: str(tmp / "missing.json"),
    lambda tmp: (tmp / "nan.json").write_text('{"num_hidden_layers": 2, "hidden_size": NaN}') and str(tmp / "nan.json"),
])
def test_cli_params_exits_2_with_one_line(tmp_path, make_arg):
    arg = make_arg(tmp_path)
    run = subprocess.run([sys.executable, "-m", "costmodel", "params", "--hf-config", arg],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and ("hf-config:" in run.stderr or "config:" in run.stderr)


def test_plausible_keys_that_multiply_into_an_absurd_model_are_refused():
    # each key within its bound; L 10,000, d 131,072, 512 heads x 128, f 262,144:
    # attention 4 x 131,072 x 65,536 = 34,359,738,368 + MLP 3 x 131,072 x 262,144 = 103,079,215,104 per layer,
    # x 10,000 = 1,374,389,534,720,000 + norms 20,001 x 131,072 = 1.374e15 > 1e15
    cfg = {"num_hidden_layers": 10_000, "hidden_size": 131_072, "num_attention_heads": 512, "head_dim": 128,
           "vocab_size": 0, "intermediate_size": 262_144}
    one_line_error(cfg, r"config: the keys describe 1.37e\+15 parameters, above the bound of 1e\+15")
    assert cm.model_from_hf_config({**cfg, "num_hidden_layers": 7_000}).params_total < 1e15


# --- any JSON value under any key the reader looks at: a Model or a CostModelError, nothing else --------
KEYS_READ = sorted(set(BOUNDS) | {"layer_types", "mlp_only_layers", "moe_layers", "no_rope_layers", "model_type",
                                  "tie_word_embeddings", "mlp_gated", "use_sliding_window", "attention_bias",
                                  "mlp_bias", "rope_scaling", "rope_parameters", "text_config",
                                  "quantization_config", "modules_to_not_convert"})
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8) | st.sampled_from(["full_attention", "sliding_attention", "llama4_text", "gpt_oss"]),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.sampled_from(KEYS_READ), inner, max_size=5),
    max_leaves=12)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS_READ), json_values, max_size=12), st.booleans())
def test_any_values_give_a_model_or_one_line_error(overrides, on_base):
    cfg = {**(MOE if on_base else {}), **overrides}
    try:
        m = cm.model_from_hf_config(cfg)
    except cm.CostModelError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(("config:", "hf-config:"))
    else:
        assert 0 < m.params_total <= 1e15 and m.params_active <= m.params_total
        assert m.kv_bytes_per_sequence(10**6) <= m.kv_bytes_per_token() * 10**6


@pytest.mark.parametrize("quant, layers", [
    ({"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn", "lm_head"]}, "experts"),
    ({"quant_method": "fp8", "fmt": "e4m3"}, "linear"),  # DeepSeek-V3: every block linear in FP8
    ({"modules_to_not_convert": ["lm_head"]}, "linear"),
    ({"modules_to_not_convert": "self_attn"}, "linear"),  # not a list: nothing read from it
    ("mxfp4", "linear"), (None, "linear")])
def test_quantized_layers_from_the_modules_left_unconverted(quant, layers):
    assert cm.model_from_hf_config({**MOE, "quantization_config": quant}).quantized_layers == layers
