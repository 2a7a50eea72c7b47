"""The bench suite's PyTorch peer for decoder rerankers: Qwen3ForCausalLM (Qwen3-Reranker) and Qwen2ForCausalLM
(mxbai-rerank-v2, Qwen2.5-based), scored from two rows of lm_head at the last position.

What a CPU user of these rerankers runs is transformers' causal LM on a padded batch of (instruction + query + document)
prompts with eager attention; this file is that computation written out (nn.functional ops, no transformers import), so it
runs on Debian's python3-torch (1.13, no scaled_dot_product_attention) and reads the checkpoint (F32, BF16 or F16 tensors;
BF16 and F16 are widened to F32 on load, then everything runs in F32) without the safetensors package.

    /usr/bin/python3 tools/peers/qwen3_torch.py --model <dir> --prefix <file> --suffixes <file> \
        [--cache] [--batch B] [--yes ID --no ID] [--threads N] [--seconds S] [--warmup W]

--prefix is int32 little-endian token ids (the part every candidate shares: system prompt, instruction, query). --suffixes
is int32 N, then N times (int32 length >= 1, that many int32 ids): each candidate's own tokens (document, closing
template). Candidate i is the sequence prefix + suffix[i]. --yes/--no are the two lm_head rows the score reads; by default
9693 ("yes") / 2152 ("no") for model_type qwen3 (Qwen3-Reranker) and 16 ("1") / 15 ("0") for qwen2 (mxbai-rerank-v2).
score = sigmoid(logit_yes - logit_no) at the sequence's last token. (Qwen3-Reranker's reference code computes
exp(log_softmax([no, yes]))[yes], which is that sigmoid; mxbai_rerank's predict() returns the raw difference.)

Without --cache every candidate is the full sequence, as transformers runs it: one padded batch (of at most --batch
candidates per forward pass; default all), RIGHT padding (pad id 0), positions 0..len-1 in every row, the additive mask
causal AND key < len (dtype min where masked, as transformers' eager path), and the last real position of each row read.
(The reference rerankers pad on the LEFT without position_ids, so transformers' forward gives a left-padded row positions
shifted by its padding; RoPE scores depend only on i - j, so both give the same logits up to rounding of the angles.)
With --cache the prefix runs once per call (batch 1) and keeps each layer's rotated K and V, as transformers'
past_key_values does; the suffixes then run as one padded batch at positions P..P+len-1 against [prefix K/V expanded over
the batch, their own K/V], every prefix key visible, their own keys causal and < len.

Prints one JSON line: per_s (candidates per second over the timed calls), tokens_per_s (tokens the model computed per
second: real tokens, padding not counted; without --cache N x P + sum(len), with --cache P + sum(len)),
sequence_tokens_per_s (candidate tokens N x P + sum(len) per second, the same in both modes), calls, call_ms (median),
cpu_ms (median CPU time of the process per call, all threads: on a machine shared with other work, cpu_ms / (call_ms x
threads) says how much of the cores the peer got; OpenBLAS's spinning threads count too), gflop_per_call and gflop_s
(useful work: 2 x linear weights per computed token + per layer 4 x keys x head_dim x heads per computed token, keys =
position + 1 (causal), + the two head rows; padding and masked keys not counted), load_s, torch, threads, warmup, blas
(the BLAS library loaded), cache, batch, candidates, prefix_tokens, suffix_tokens, and logits: the first, untimed call's
per-candidate [logit_yes - logit_no], which the bench compares with its own. --warmup 0 (for calls of minutes) skips the
untimed call and reports the first timed call's logits; the timed calls run for --seconds, at least one.

The math, as in huggingface/transformers src/transformers/models/qwen3/modeling_qwen3.py and
src/transformers/models/qwen2/modeling_qwen2.py (eager attention path; the configuration defaults from configuration_qwen3.py
/ configuration_qwen2.py):
  rms(x, w) = w * (x * rsqrt(mean(x^2, last dim) + rms_norm_eps))       computed in fp32 (or the working dtype if wider)
  h = embed_tokens[ids]                                                  [B, T, H]                  model.embed_tokens.weight
  per layer i (model.layers.{i}.):
    x = rms(h, input_layernorm)
    q = q_proj(x) [B, T, nH, dH]; k = k_proj(x), v = v_proj(x) [B, T, nKV, dH]
        biases: Qwen2 always on q, k, v (never on o_proj); Qwen3 on q, k, v AND o_proj iff config attention_bias (false)
    Qwen3 only: q = rms(q, self_attn.q_norm), k = rms(k, self_attn.k_norm) over each head's dH, before rotary
    q, k = q cos + rotate_half(q) sin, k likewise; rotate_half(x) = cat(-x[dH/2:], x[:dH/2]);
        inv_freq = 1 / rope_theta ** (arange(0, dH, 2) / dH) in float32; angles = position x inv_freq in float32;
        cos/sin = cos/sin(cat(angles, angles)) in float32, then cast to the working dtype
    query head j reads kv head j // (nH / nKV) (transformers' repeat_kv: each kv head repeated nH / nKV times, in order)
    p = softmax(q k^T * dH^-0.5 + mask) (fp32, or the working dtype if wider); h = h + o_proj(p v)
    x = rms(h, post_attention_layernorm); h = h + down_proj(silu(gate_proj(x)) * up_proj(x))
  h = rms(h, model.norm); logits = lm_head(h) (lm_head.weight, or model.embed_tokens.weight if tie_word_embeddings)
dH = config head_dim when set, else Qwen3Config's default 128 for qwen3 if the key is absent, else hidden / heads.
rope_theta from config (or rope_parameters.rope_theta), default 10000; rope scaling other than default, sliding-window
attention (use_sliding_window) and activations other than silu are refused, not approximated.

A float64 run (dtype=torch.float64, used by qwen3_fixture.py for the committed fixtures) keeps the rotary tables float32
as transformers computes them even for a double model, and does norms and softmax in double (transformers' eager code
would drop those to fp32; the reference does not, so it is a true double reference for everything but the angles).
"""

import os
import sys

if __name__ == "__main__":
    # BLAS/OpenMP pools size themselves when the library loads: set them from --threads before importing torch.
    if "--threads" in sys.argv[:-1]:
        for pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(pool, sys.argv[sys.argv.index("--threads") + 1])

import argparse
import json
import statistics
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_LABELS = {"qwen3": (9693, 2152), "qwen2": (16, 15)}  # ("yes", "no") / ("1", "0") in the Qwen tokenizer


def read_safetensors(path):
    """name -> float32 tensor. Format: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}}, data.
    BF16 is the upper half of an IEEE single: widened exactly by shifting into the high 16 bits."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = bytearray(f.read())  # writable, so torch.from_numpy does not warn
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        shape = info["shape"]
        dtype = info["dtype"]
        if dtype == "F32":
            array = np.frombuffer(data, dtype="<f4", count=(end - begin) // 4, offset=begin)
        elif dtype == "BF16":
            halves = np.frombuffer(data, dtype="<u2", count=(end - begin) // 2, offset=begin)
            array = (halves.astype(np.uint32) << 16).view(np.float32)
        elif dtype == "F16":
            array = np.frombuffer(data, dtype="<f2", count=(end - begin) // 2, offset=begin).astype(np.float32)
        else:
            raise ValueError(f"{name}: dtype {dtype}, this peer reads F32, BF16 and F16 checkpoints")
        tensors[name] = torch.from_numpy(array.reshape(shape))
    return tensors


class QwenReranker:
    """Qwen3ForCausalLM / Qwen2ForCausalLM with only the lm_head rows of the two scored labels."""

    def __init__(self, directory, dtype=torch.float32, yes=None, no=None, kv_heads_of=None):
        with open(os.path.join(directory, "config.json")) as f:
            c = json.load(f)
        self.c = c
        model_type = c.get("model_type")
        if model_type not in DEFAULT_LABELS:
            raise ValueError(f"model_type {model_type!r}: this peer runs qwen3 and qwen2")
        self.qwen3 = model_type == "qwen3"
        self.dtype = dtype
        self.hidden = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        self.kv_heads = c.get("num_key_value_heads") or self.heads
        if c.get("head_dim"):
            self.head_dim = c["head_dim"]
        elif self.qwen3 and "head_dim" not in c:
            self.head_dim = 128  # Qwen3Config.head_dim's default
        else:
            self.head_dim = self.hidden // self.heads
        if self.heads % self.kv_heads or self.head_dim % 2:
            raise ValueError(f"heads {self.heads} / kv heads {self.kv_heads} / head_dim {self.head_dim} unsupported")
        self.layers = c["num_hidden_layers"]
        self.intermediate = c["intermediate_size"]
        self.eps = c.get("rms_norm_eps", 1e-6)
        rope = c.get("rope_parameters") or {}
        self.theta = float(c.get("rope_theta", rope.get("rope_theta", 10000.0)))
        scaling = c.get("rope_scaling") or rope
        if scaling.get("rope_type", scaling.get("type", "default")) != "default" or c.get("partial_rotary_factor", 1.0) != 1.0:
            raise ValueError(f"rope {scaling}: only the default rotary embedding is implemented")
        if c.get("use_sliding_window") or any(t != "full_attention" for t in c.get("layer_types") or []):
            raise ValueError("sliding-window layers are not implemented")
        if c.get("hidden_act", "silu") != "silu":
            raise ValueError(f"hidden_act {c.get('hidden_act')}: only silu is implemented")
        self.qkv_bias = not self.qwen3 or bool(c.get("attention_bias", False))
        self.o_bias = self.qwen3 and bool(c.get("attention_bias", False))
        default_yes, default_no = DEFAULT_LABELS[model_type]
        self.yes = default_yes if yes is None else yes
        self.no = default_no if no is None else no

        w = read_safetensors(os.path.join(directory, "model.safetensors"))
        self.p = "model." if "model.embed_tokens.weight" in w else ""
        self.w = {name: t.to(dtype) for name, t in w.items()}
        self.check_shapes()
        vocab = self.w[self.p + "embed_tokens.weight"].shape[0]
        if not (0 <= self.yes < vocab and 0 <= self.no < vocab):
            raise ValueError(f"label rows {self.yes}/{self.no} outside the vocabulary ({vocab}); pass --yes/--no")
        tied = c.get("tie_word_embeddings", False)
        table = self.w[self.p + "embed_tokens.weight"] if tied else self.w["lm_head.weight"]
        self.head = table[[self.yes, self.no]].clone()                           # [2, H]: only these rows are needed
        # kv head each query head reads: transformers' repeat_kv gives query head j kv head j // (nH / nKV)
        groups = self.heads // self.kv_heads
        mapping = kv_heads_of if kv_heads_of is not None else [j // groups for j in range(self.heads)]
        self.kv_index = torch.tensor(mapping, dtype=torch.int64)
        self.inv_freq = 1.0 / (self.theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.int64).float() / self.head_dim))

    def check_shapes(self):
        p, H, dh, nh, nkv, I = self.p, self.hidden, self.head_dim, self.heads, self.kv_heads, self.intermediate
        expected = {p + "embed_tokens.weight": None, p + "norm.weight": (H,)}
        for i in range(self.layers):
            n = f"{p}layers.{i}."
            expected.update({
                n + "input_layernorm.weight": (H,), n + "post_attention_layernorm.weight": (H,),
                n + "self_attn.q_proj.weight": (nh * dh, H), n + "self_attn.k_proj.weight": (nkv * dh, H),
                n + "self_attn.v_proj.weight": (nkv * dh, H), n + "self_attn.o_proj.weight": (H, nh * dh),
                n + "mlp.gate_proj.weight": (I, H), n + "mlp.up_proj.weight": (I, H), n + "mlp.down_proj.weight": (H, I),
            })
            if self.qkv_bias:
                expected.update({n + "self_attn.q_proj.bias": (nh * dh,), n + "self_attn.k_proj.bias": (nkv * dh,),
                                 n + "self_attn.v_proj.bias": (nkv * dh,)})
            if self.o_bias:
                expected[n + "self_attn.o_proj.bias"] = (H,)
            if self.qwen3:
                expected.update({n + "self_attn.q_norm.weight": (dh,), n + "self_attn.k_norm.weight": (dh,)})
        if not self.c.get("tie_word_embeddings", False):
            expected["lm_head.weight"] = None
        for name, shape in expected.items():
            if name not in self.w:
                raise ValueError(f"tensor {name} missing from model.safetensors")
            actual = tuple(self.w[name].shape)
            if shape is None:
                if len(actual) != 2 or actual[1] != H:
                    raise ValueError(f"{name}: shape {actual}, expected [vocab, {H}]")
            elif actual != shape:
                raise ValueError(f"{name}: shape {actual}, expected {shape}")

    def linear_weights(self):
        """Weights in the per-token linears (q, k, v, o, gate, up, down over all layers)."""
        H, dh, I = self.hidden, self.head_dim, self.intermediate
        return self.layers * (2 * H * self.heads * dh + 2 * H * self.kv_heads * dh + 3 * H * I)

    def rms(self, x, weight):
        work = x.to(torch.float32) if torch.finfo(x.dtype).bits < 32 else x
        return weight * (work * torch.rsqrt(work.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)

    def rotary(self, start, t):
        """cos, sin [T, dH] for positions start..start+T-1, float32 as Qwen3RotaryEmbedding, cast to the working dtype."""
        positions = torch.arange(start, start + t, dtype=torch.int64).float()
        freqs = positions[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(self.dtype), emb.sin().to(self.dtype)

    @staticmethod
    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    def forward(self, ids, lengths, past=None, trace=False, keep_kv=False):
        """ids [B, T] right-padded, lengths [B] real tokens per row (>= 1), past: per layer (K, V) [1, nKV, P, dH] of a
        shared prefix at positions 0..P-1 (the rows then sit at P..P+T-1). Returns (logit_yes - logit_no [B], details)."""
        b, t = ids.shape
        p, nh, nkv, dh = self.p, self.heads, self.kv_heads, self.head_dim
        start = 0 if past is None else past[0][0].shape[2]
        lengths = torch.as_tensor(lengths, dtype=torch.int64)
        # additive mask [B, 1, T, P + T]: prefix keys always visible; own key j visible iff j <= i and j < length
        i = torch.arange(t)[:, None]
        j = torch.arange(t)[None, :]
        visible = (j <= i)[None, :, :] & (j[None, :, :] < lengths[:, None, None])                 # [B, T, T]
        if start:
            visible = torch.cat((torch.ones(b, t, start, dtype=torch.bool), visible), dim=2)
        mask = torch.zeros(b, 1, t, start + t, dtype=self.dtype).masked_fill_(~visible[:, None], torch.finfo(self.dtype).min)
        cos, sin = self.rotary(start, t)
        softmax_dtype = torch.float32 if torch.finfo(self.dtype).bits < 32 else self.dtype
        h = F.embedding(ids, self.w[p + "embed_tokens.weight"])
        states = [h] if trace else None
        kv = [] if keep_kv else None
        for layer in range(self.layers):
            n = f"{p}layers.{layer}."
            x = self.rms(h, self.w[n + "input_layernorm.weight"])
            q = F.linear(x, self.w[n + "self_attn.q_proj.weight"], self.w.get(n + "self_attn.q_proj.bias")).view(b, t, nh, dh)
            k = F.linear(x, self.w[n + "self_attn.k_proj.weight"], self.w.get(n + "self_attn.k_proj.bias")).view(b, t, nkv, dh)
            v = F.linear(x, self.w[n + "self_attn.v_proj.weight"], self.w.get(n + "self_attn.v_proj.bias")).view(b, t, nkv, dh)
            if self.qwen3:
                q = self.rms(q, self.w[n + "self_attn.q_norm.weight"])
                k = self.rms(k, self.w[n + "self_attn.k_norm.weight"])
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)                     # [B, heads, T, dH]
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            if keep_kv:
                kv.append((k, v))
            if past is not None:
                k = torch.cat((past[layer][0].expand(b, -1, -1, -1), k), dim=2)
                v = torch.cat((past[layer][1].expand(b, -1, -1, -1), v), dim=2)
            k = k.index_select(1, self.kv_index)                                                  # [B, nH, S, dH]
            v = v.index_select(1, self.kv_index)
            scores = torch.matmul(q, k.transpose(2, 3)) * dh ** -0.5 + mask                      # [B, nH, T, S]
            probabilities = F.softmax(scores, dim=-1, dtype=softmax_dtype).to(self.dtype)
            context = torch.matmul(probabilities, v).transpose(1, 2).reshape(b, t, nh * dh)
            h = h + F.linear(context, self.w[n + "self_attn.o_proj.weight"], self.w.get(n + "self_attn.o_proj.bias"))
            x = self.rms(h, self.w[n + "post_attention_layernorm.weight"])
            gate = F.linear(x, self.w[n + "mlp.gate_proj.weight"])
            h = h + F.linear(F.silu(gate) * F.linear(x, self.w[n + "mlp.up_proj.weight"]), self.w[n + "mlp.down_proj.weight"])
            if trace:
                states.append(h)
        last = h[torch.arange(b), lengths - 1]                                                    # [B, H]
        normed = self.rms(last, self.w[p + "norm.weight"])
        logits = F.linear(normed, self.head)                                                      # [B, 2]: yes, no
        details = {"logit_yes": logits[:, 0], "logit_no": logits[:, 1], "final_norm_last": normed, "states": states, "kv": kv}
        return logits[:, 0] - logits[:, 1], details

    def rerank(self, prefix, suffixes, cache=False, batch=None):
        """logit_yes - logit_no per candidate (prefix + suffix), in chunks of `batch` candidates."""
        batch = batch or len(suffixes)
        out = []
        if cache and prefix:
            ids = torch.tensor([prefix], dtype=torch.int64)
            _, details = self.forward(ids, [len(prefix)], keep_kv=True)
            past = details["kv"]
            rows = suffixes
        else:
            past = None
            rows = [prefix + s for s in suffixes]
        for begin in range(0, len(rows), batch):
            chunk = rows[begin:begin + batch]
            width = max(len(r) for r in chunk)
            ids = torch.zeros(len(chunk), width, dtype=torch.int64)
            for r, row in enumerate(chunk):
                ids[r, :len(row)] = torch.tensor(row, dtype=torch.int64)
            diff, _ = self.forward(ids, [len(r) for r in chunk], past=past)
            out.append(diff)
        return torch.cat(out)

    def useful_flop(self, prefix_len, suffix_lens, cache):
        """2 x linear weights per computed token + per layer 4 x (position + 1) x dH x nH per computed token + head."""
        def tokens(begin, end):                       # computed tokens at positions begin..end-1
            return end - begin, (end * (end + 1) - begin * (begin + 1)) // 2  # count, sum of (position + 1)
        count, keys = 0, 0
        spans = ([(0, prefix_len)] + [(prefix_len, prefix_len + s) for s in suffix_lens]) if cache \
            else [(0, prefix_len + s) for s in suffix_lens]
        for begin, end in spans:
            c, k = tokens(begin, end)
            count, keys = count + c, keys + k
        attention = 4 * keys * self.head_dim * self.heads * self.layers
        return 2 * self.linear_weights() * count + attention + 4 * self.hidden * len(suffix_lens), count


def read_prefix(path):
    return np.fromfile(path, dtype="<i4").astype(np.int64).tolist()


def read_suffixes(path):
    data = np.fromfile(path, dtype="<i4")
    n, at, out = int(data[0]), 1, []
    for _ in range(n):
        length = int(data[at])
        if length < 1 or at + 1 + length > data.size:
            raise ValueError(f"{path}: suffix {len(out)} has length {length} (or runs past the end of the file)")
        out.append(data[at + 1:at + 1 + length].astype(np.int64).tolist())
        at += 1 + length
    if at != data.size:
        raise ValueError(f"{path}: {data.size - at} int32 after the {n} suffixes")
    return out


def blas_library():
    """The BLAS this process loaded (Debian's torch uses the libblas.so.3 alternative: the reference BLAS is ~50x slower
    than OpenBLAS, so the bench reports which one ran)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        return ", ".join(sorted(os.path.realpath(p) for p in paths)) or "unknown"
    except OSError:
        return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--suffixes", required=True)
    parser.add_argument("--cache", action="store_true")
    parser.add_argument("--batch", type=int, default=0, help="candidates per forward pass (default: all)")
    parser.add_argument("--yes", type=int)
    parser.add_argument("--no", type=int)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls first (0: logits from the first timed call)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model = QwenReranker(args.model, yes=args.yes, no=args.no)
    prefix, suffixes = read_prefix(args.prefix), read_suffixes(args.suffixes)
    vocab = model.w[model.p + "embed_tokens.weight"].shape[0]
    if any(not 0 <= i < vocab for s in [prefix] + suffixes for i in s):
        sys.exit(f"token ids outside the vocabulary ({vocab})")
    load_s = time.perf_counter() - started
    suffix_lens = [len(s) for s in suffixes]
    flop, computed = model.useful_flop(len(prefix), suffix_lens, args.cache)
    with torch.inference_mode():
        logits = None
        for _ in range(args.warmup):
            logits = model.rerank(prefix, suffixes, args.cache, args.batch)                     # warm-up, and the logits
        times, cpu_times = [], []
        clock = time.perf_counter()
        while not times or time.perf_counter() - clock < args.seconds:
            call, cpu = time.perf_counter(), time.process_time()
            scores = model.rerank(prefix, suffixes, args.cache, args.batch)
            times.append(time.perf_counter() - call)
            cpu_times.append(time.process_time() - cpu)
            logits = scores if logits is None else logits
        total = time.perf_counter() - clock
    n = len(suffixes)
    print(json.dumps({
        "per_s": len(times) * n / total,
        "tokens_per_s": len(times) * computed / total,
        "sequence_tokens_per_s": len(times) * (n * len(prefix) + sum(suffix_lens)) / total,
        "calls": len(times),
        "call_ms": 1000 * statistics.median(times),
        "cpu_ms": 1000 * statistics.median(cpu_times),
        "gflop_per_call": flop / 1e9,
        "gflop_s": len(times) * flop / total / 1e9,
        "load_s": load_s,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "warmup": args.warmup,
        "blas": blas_library(),
        "cache": args.cache,
        "batch": args.batch or n,
        "candidates": n,
        "prefix_tokens": len(prefix),
        "suffix_tokens": sum(suffix_lens),
        "logits": logits.tolist(),
    }))


if __name__ == "__main__":
    main()
