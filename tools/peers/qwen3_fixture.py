"""Random Qwen3 / Qwen2 checkpoints, bench inputs and the committed numerical fixture for the decoder rerankers.

    /usr/bin/python3 tools/peers/qwen3_fixture.py checkpoint --config <config.json> --out <dir> \
        [--dtype F32|BF16] [--vocab-size V] [--seed S] [--untied]
    /usr/bin/python3 tools/peers/qwen3_fixture.py inputs --out <dir> --vocab V --prefix-tokens P --candidates N \
        --suffix-tokens A[:B] [--seed S]
    /usr/bin/python3 tools/peers/qwen3_fixture.py fixtures --out tests/CrossEncoder.Native.Tests/Fixtures/qwen-torch
    /usr/bin/python3 tools/peers/qwen3_fixture.py check [--fixtures tests/CrossEncoder.Native.Tests/Fixtures/qwen-torch]

checkpoint: config.json (copied; vocab_size replaced by --vocab-size, torch_dtype set) and model.safetensors with
transformers' tensor names and random weights: linears and the embedding N(0, 0.02) (transformers' init std), biases
N(0, 0.1) (Qwen2's q/k/v; transformers inits them to zero, random here so a dropped bias shows), every RMSNorm weight
1 + N(0, 0.1) (transformers inits ones; noisy so a norm weight applied to the wrong axis shows), lm_head absent (tied)
unless --untied or the config says tie_word_embeddings false. Random numbers from numpy's PCG64 (default_rng(seed)), so a
seed gives the same checkpoint on any machine. BF16 is F32 rounded to nearest even, upper 16 bits kept.

inputs: prefix.bin (P int32 ids) and suffixes.bin (int32 N, then N x (int32 len, len ids), lengths uniform in A..B) for
qwen3_torch.py's --prefix / --suffixes; ids uniform in [0, V).

fixtures: the three tiny models of the C# tests (see FIXTURES below; their README.md says what each file holds), computed by
qwen3_torch.QwenReranker in float64 (the reference) and float32 (for information). Deterministic: rerunning it rewrites
the same bytes (for the same torch build; the float64 values can move in the last bits with another BLAS).

check: the self-checks (cached vs uncached logits, padded batch vs one sequence at a time, the GQA head mapping matters,
float64 vs float32, and that the committed expected.json is what this torch reproduces). Exit status 1 if one fails.
"""

import argparse
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

YES_ID, NO_ID = 3, 7
LENGTHS = (1, 5, 17, 40)
PREFIX_LENGTH, SUFFIX_LENGTHS = 12, (1, 6, 23)

# Tiny shapes with every structural feature of the real models: GQA (4 query heads on 2 kv heads), Qwen3's head_dim set
# independently of hidden (4 x 16 = 64 != 32, twice hidden as in Qwen3-0.6B's 16 x 128 = 2048 vs 1024), Qwen2's biases and
# derived head_dim, tied embeddings. Kept small so each F32 model.safetensors stays under 200 KB.
QWEN3 = {
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 1,
    "eos_token_id": 2, "head_dim": 16, "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02,
    "intermediate_size": 48, "max_position_embeddings": 512, "max_window_layers": 3, "model_type": "qwen3",
    "num_attention_heads": 4, "num_hidden_layers": 3, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
    "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": True,
    "torch_dtype": "float32", "use_cache": True, "use_sliding_window": False, "vocab_size": 512,
}
QWEN2 = {
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
    "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 48,
    "max_position_embeddings": 512, "max_window_layers": 3, "model_type": "qwen2", "num_attention_heads": 4,
    "num_hidden_layers": 3, "num_key_value_heads": 2, "rms_norm_eps": 1e-05, "rope_scaling": None,
    "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": True, "torch_dtype": "float32",
    "use_cache": True, "use_sliding_window": False, "vocab_size": 512,
}
FIXTURES = {  # folder: (config, stored dtype, weight seed)
    "qwen3-f32": (QWEN3, "F32", 3),
    "qwen2-f32": (QWEN2, "F32", 2),
    "qwen3-bf16": (QWEN3, "BF16", 3),   # qwen3-f32's weights rounded to BF16
}


def head_dim(c):
    if c.get("head_dim"):
        return c["head_dim"]
    return 128 if c["model_type"] == "qwen3" and "head_dim" not in c else c["hidden_size"] // c["num_attention_heads"]


def random_weights(c, seed, untied=False):
    """name -> float32 array, transformers' names and shapes, in a fixed order (so a seed always draws the same)."""
    rng = np.random.default_rng(seed)
    H, I, V = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    nh, dh = c["num_attention_heads"], head_dim(c)
    nkv = c.get("num_key_value_heads") or nh
    qwen3 = c["model_type"] == "qwen3"
    qkv_bias = not qwen3 or c.get("attention_bias", False)
    o_bias = qwen3 and c.get("attention_bias", False)

    def normal(std, *shape):
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(np.float32)

    def norm(n):
        return (np.float32(1) + normal(0.1, n)).astype(np.float32)

    w = {"model.embed_tokens.weight": normal(0.02, V, H)}
    for i in range(c["num_hidden_layers"]):
        n = f"model.layers.{i}."
        w[n + "input_layernorm.weight"] = norm(H)
        w[n + "self_attn.q_proj.weight"] = normal(0.02, nh * dh, H)
        w[n + "self_attn.k_proj.weight"] = normal(0.02, nkv * dh, H)
        w[n + "self_attn.v_proj.weight"] = normal(0.02, nkv * dh, H)
        if qkv_bias:
            w[n + "self_attn.q_proj.bias"] = normal(0.1, nh * dh)
            w[n + "self_attn.k_proj.bias"] = normal(0.1, nkv * dh)
            w[n + "self_attn.v_proj.bias"] = normal(0.1, nkv * dh)
        w[n + "self_attn.o_proj.weight"] = normal(0.02, H, nh * dh)
        if o_bias:
            w[n + "self_attn.o_proj.bias"] = normal(0.1, H)
        if qwen3:
            w[n + "self_attn.q_norm.weight"] = norm(dh)
            w[n + "self_attn.k_norm.weight"] = norm(dh)
        w[n + "post_attention_layernorm.weight"] = norm(H)
        w[n + "mlp.gate_proj.weight"] = normal(0.02, I, H)
        w[n + "mlp.up_proj.weight"] = normal(0.02, I, H)
        w[n + "mlp.down_proj.weight"] = normal(0.02, H, I)
    w["model.norm.weight"] = norm(H)
    if untied or not c.get("tie_word_embeddings", False):
        w["lm_head.weight"] = normal(0.02, V, H)
    return w


def to_bf16_bits(array):
    """float32 -> BF16 bit patterns (uint16), round to nearest even (no NaNs in random weights)."""
    u = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def write_safetensors(path, tensors, dtype):
    """safetensors: u64 LE header length, JSON header (padded with spaces to 8 bytes), then the tensors' bytes."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, array in tensors.items():
        blob = to_bf16_bits(array).tobytes() if dtype == "BF16" else np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def write_checkpoint(out, c, dtype, seed, untied=False):
    os.makedirs(out, exist_ok=True)
    c = dict(c, torch_dtype="bfloat16" if dtype == "BF16" else "float32")
    if untied:
        c["tie_word_embeddings"] = False
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(out, "model.safetensors"), random_weights(c, seed, untied), dtype)


def fixture_ids(vocab):
    """The fixture's sequences (lengths 1, 5, 17, 40, the 17 and 40 ones holding the yes/no ids) and prefix case."""
    rng = np.random.default_rng(2024)
    sequences = []
    for length in LENGTHS:
        ids = rng.integers(0, vocab, size=length).tolist()
        if length >= 17:
            ids[3], ids[length // 2] = YES_ID, NO_ID
        sequences.append(ids)
    prefix = rng.integers(0, vocab, size=PREFIX_LENGTH).tolist()
    suffixes = [rng.integers(0, vocab, size=n).tolist() for n in SUFFIX_LENGTHS]
    return sequences, prefix, suffixes


def floats(t):
    return t.tolist()


def sigmoid(x):
    return float(1.0 / (1.0 + np.exp(-float(x))))


def run_sequence(model, ids):
    import torch
    diff, d = model.forward(torch.tensor([ids], dtype=torch.int64), [len(ids)], trace=True)
    return diff[0], d


def make_fixtures(out):
    import torch
    from qwen3_torch import QwenReranker
    torch.set_num_threads(1)  # one thread: the same reduction order on every run
    for folder, (config, dtype, seed) in FIXTURES.items():
        directory = os.path.join(out, folder)
        write_checkpoint(directory, config, dtype, seed)
        sequences, prefix, suffixes = fixture_ids(config["vocab_size"])
        with open(os.path.join(directory, "ids.json"), "w") as f:
            json.dump({"yes_id": YES_ID, "no_id": NO_ID, "sequences": sequences, "prefix": prefix, "suffixes": suffixes}, f)
            f.write("\n")
        m64 = QwenReranker(directory, torch.float64, YES_ID, NO_ID)
        m32 = QwenReranker(directory, torch.float32, YES_ID, NO_ID)
        expected = {
            "model_type": config["model_type"], "weights_dtype": dtype, "torch": torch.__version__,
            "yes_id": YES_ID, "no_id": NO_ID, "head_dim": m64.head_dim,
            "inv_freq": floats(m64.inv_freq.double()),
            "sequences": [],
        }
        with torch.inference_mode():
            for ids in sequences:
                diff64, d64 = run_sequence(m64, ids)
                diff32, d32 = run_sequence(m32, ids)
                rel = [float((s32.double() - s64).abs().max() / s64.abs().max()) for s32, s64 in zip(d32["states"], d64["states"])]
                expected["sequences"].append({
                    "ids": ids,
                    "hidden_states": [floats(s[0]) for s in d64["states"]],
                    "final_norm_last": floats(d64["final_norm_last"][0]),
                    "logit_yes": float(d64["logit_yes"][0]), "logit_no": float(d64["logit_no"][0]),
                    "logit_diff": float(diff64), "score": sigmoid(diff64),
                    "float32": {
                        "final_norm_last": floats(d32["final_norm_last"][0].double()),
                        "logit_yes": float(d32["logit_yes"][0]), "logit_no": float(d32["logit_no"][0]),
                        "logit_diff": float(diff32), "score": sigmoid(diff32),
                        "hidden_states_max_rel_diff": rel,
                    },
                })
            full = [prefix + s for s in suffixes]
            diffs64 = [float(run_sequence(m64, ids)[0]) for ids in full]
            expected["prefix_cache"] = {
                "prefix": prefix, "suffixes": suffixes,
                "logit_diff": diffs64, "score": [sigmoid(x) for x in diffs64],
                "float32_uncached_logit_diff": floats(m32.rerank(prefix, suffixes, cache=False).double()),
                "float32_cached_logit_diff": floats(m32.rerank(prefix, suffixes, cache=True).double()),
            }
        with open(os.path.join(directory, "expected.json"), "w") as f:
            json.dump(expected, f)
            f.write("\n")
        print(f"{directory}: {os.path.getsize(os.path.join(directory, 'model.safetensors'))} B weights, "
              f"{os.path.getsize(os.path.join(directory, 'expected.json'))} B expected.json")


def check(fixtures):
    import torch
    from qwen3_torch import QwenReranker
    torch.set_num_threads(1)
    failures = []

    def verdict(name, ok, detail):
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        if not ok:
            failures.append(name)

    with torch.inference_mode():
        for folder, (config, dtype, _) in FIXTURES.items():
            directory = os.path.join(fixtures, folder)
            with open(os.path.join(directory, "ids.json")) as f:
                ids = json.load(f)
            with open(os.path.join(directory, "expected.json")) as f:
                expected = json.load(f)
            m32 = QwenReranker(directory, torch.float32, YES_ID, NO_ID)
            m64 = QwenReranker(directory, torch.float64, YES_ID, NO_ID)
            prefix, suffixes, sequences = ids["prefix"], ids["suffixes"], ids["sequences"]

            # 1. cached == uncached (fp32): the prefix's K/V reused vs every candidate run in full
            un = m32.rerank(prefix, suffixes, cache=False)
            ca = m32.rerank(prefix, suffixes, cache=True)
            scale = float(un.abs().max())
            d = float((un - ca).abs().max())
            verdict(f"{folder} cached vs uncached fp32", d <= 1e-5 * scale + 1e-7, f"max |diff| {d:.2e} (logits up to {scale:.3f})")
            un64 = m64.rerank(prefix, suffixes, cache=False)
            ca64 = m64.rerank(prefix, suffixes, cache=True)
            d = float((un64 - ca64).abs().max())
            verdict(f"{folder} cached vs uncached fp64", d <= 1e-12, f"max |diff| {d:.2e}")

            # 2. one padded batch (right padding) == each sequence alone
            alone = torch.stack([run_sequence(m32, s)[0] for s in sequences])
            batched = m32.rerank([], sequences, cache=False)
            d = float((alone - batched).abs().max())
            verdict(f"{folder} padded batch vs alone fp32", d <= 1e-6, f"max |diff| {d:.2e}")

            # 3. fp64 vs fp32, every hidden state, position and the logits
            worst_state, worst_logit = 0.0, 0.0
            for s in sequences:
                d32, d64 = run_sequence(m32, s), run_sequence(m64, s)
                for a, b in zip(d32[1]["states"], d64[1]["states"]):
                    worst_state = max(worst_state, float((a.double() - b).abs().max() / b.abs().max()))
                # relative to the logits' size: yes - no can cancel (0.075 - 0.077 on the 1-token sequence)
                size = max(abs(float(d64[1]["logit_yes"][0])), abs(float(d64[1]["logit_no"][0])))
                for key in ("logit_yes", "logit_no"):
                    worst_logit = max(worst_logit, abs(float(d32[1][key][0]) - float(d64[1][key][0])) / size)
                worst_logit = max(worst_logit, abs(float(d32[0]) - float(d64[0])) / size)
            verdict(f"{folder} fp32 vs fp64", worst_state <= 1e-5 and worst_logit <= 1e-5,
                    f"hidden states max rel {worst_state:.2e}, logits (and yes - no) rel to max |logit| {worst_logit:.2e}")

            # 4. the GQA mapping matters: query head j on kv head j % nKV (interleaved) instead of j // (nH/nKV)
            swapped = QwenReranker(directory, torch.float64, YES_ID, NO_ID,
                                   kv_heads_of=[j % m64.kv_heads for j in range(m64.heads)])
            base = torch.stack([run_sequence(m64, s)[0] for s in sequences[1:]])
            other = torch.stack([run_sequence(swapped, s)[0] for s in sequences[1:]])
            rel = float((base - other).abs().max() / base.abs().max())
            s_base = run_sequence(m64, sequences[-1])[1]["states"][-1]
            s_other = run_sequence(swapped, sequences[-1])[1]["states"][-1]
            rel_state = float((s_base - s_other).abs().max() / s_base.abs().max())
            verdict(f"{folder} GQA mapping j % nKV differs", rel > 1e-3 and rel_state > 1e-3,
                    f"logit diff rel change {rel:.2e}, last hidden state rel change {rel_state:.2e} (tolerance 1e-5)")

            # 5. the committed expected.json is what this torch computes
            worst = 0.0
            for s, e in zip(sequences, expected["sequences"]):
                diff, d64 = run_sequence(m64, s)
                for a, b in zip(d64["states"], e["hidden_states"]):
                    worst = max(worst, float((a[0] - torch.tensor(b, dtype=torch.float64)).abs().max()))
                worst = max(worst, abs(float(diff) - e["logit_diff"]))
            verdict(f"{folder} expected.json reproduces", worst <= 1e-12, f"max |diff| {worst:.2e}")

        # 6. the BF16 fixture is the F32 one rounded: same structure, logits close but not equal
        e32 = json.load(open(os.path.join(fixtures, "qwen3-f32", "expected.json")))
        e16 = json.load(open(os.path.join(fixtures, "qwen3-bf16", "expected.json")))
        d = max(abs(a["logit_diff"] - b["logit_diff"]) for a, b in zip(e32["sequences"], e16["sequences"]))
        verdict("qwen3 bf16 vs f32 weights", 0 < d < 0.05, f"max logit diff change {d:.2e} (BF16 rounding of the weights)")
    print("all checks passed" if not failures else f"{len(failures)} check(s) FAILED")
    return 1 if failures else 0


def write_inputs(out, vocab, prefix_tokens, candidates, suffix_tokens, seed):
    rng = np.random.default_rng(seed)
    low, _, high = suffix_tokens.partition(":")
    low, high = int(low), int(high or low)
    os.makedirs(out, exist_ok=True)
    rng.integers(0, vocab, size=prefix_tokens).astype("<i4").tofile(os.path.join(out, "prefix.bin"))
    parts = [np.array([candidates], dtype="<i4")]
    for _ in range(candidates):
        n = int(rng.integers(low, high + 1))
        parts += [np.array([n], dtype="<i4"), rng.integers(0, vocab, size=n).astype("<i4")]
    np.concatenate(parts).astype("<i4").tofile(os.path.join(out, "suffixes.bin"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("checkpoint")
    p.add_argument("--config", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--dtype", choices=("F32", "BF16"), default="F32")
    p.add_argument("--vocab-size", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--untied", action="store_true")
    p = sub.add_parser("inputs")
    p.add_argument("--out", required=True)
    p.add_argument("--vocab", type=int, required=True)
    p.add_argument("--prefix-tokens", type=int, required=True)
    p.add_argument("--candidates", type=int, required=True)
    p.add_argument("--suffix-tokens", required=True)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("fixtures")
    p.add_argument("--out", required=True)
    p = sub.add_parser("check")
    p.add_argument("--fixtures", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                                                      "CrossEncoder.Native.Tests", "Fixtures", "qwen-torch"))
    args = parser.parse_args()
    if args.command == "checkpoint":
        with open(args.config) as f:
            c = json.load(f)
        if args.vocab_size:
            c["vocab_size"] = args.vocab_size
        write_checkpoint(args.out, c, args.dtype, args.seed, args.untied)
    elif args.command == "inputs":
        write_inputs(args.out, args.vocab, args.prefix_tokens, args.candidates, args.suffix_tokens, args.seed)
    elif args.command == "fixtures":
        make_fixtures(args.out)
    else:
        sys.exit(check(args.fixtures))


if __name__ == "__main__":
    main()
