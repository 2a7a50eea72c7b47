"""The bench suite's PyTorch peer for ModernBERT: a plain forward pass of ModernBertForSequenceClassification in torch.

What sentence-transformers users run on a CPU without flash-attn is transformers' ModernBERT on a padded batch with
eager attention; this file is that computation written out (nn.functional ops, no transformers import), so it runs on
Debian's python3-torch (1.13, no scaled_dot_product_attention) and reads the checkpoint without the safetensors package.

    /usr/bin/python3 tools/peers/modernbert_torch.py --model <dir> --ids <file> --batch B --tokens T \
        [--threads N] [--seconds S]

--ids is B x T int32 little-endian token ids (row-major). Prints one JSON line: per_s (pairs per second over the timed
calls), calls, call_ms (median), load_s, torch, threads, blas (the BLAS library loaded), and logits (the first, untimed call's [B, labels] output, which the
bench compares with its own).

The math (transformers modeling_modernbert.py, eager path):
  h = LayerNorm(tok_embeddings[ids])                                      [B, T, H]
  per layer i: x = attn_norm(h) (identity on layer 0)
               q, k, v = split(Wqkv x)                                    [B, nH, T, dH] each
               q, k = rotary(q), rotary(k)   rotate-half; theta global_rope_theta on global layers, local_rope_theta else
               p = softmax(q k^T / sqrt(dH) + mask)   mask = -inf where |i - j| > local_attention // 2 on local layers
               h = h + Wo(p v)
               a, g = chunk(Wi mlp_norm(h), 2); h = h + Wo(gelu(a) * g)
  h = final_norm(h); pooled = mean over tokens (classifier_pooling "mean") or h[:, 0] ("cls")
  logits = classifier(head.norm(gelu(head.dense(pooled))))
Global layers are i % global_attn_every_n_layers == 0. Norms have no bias when norm_bias is false.
"""

import argparse
import json
import math
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def read_safetensors(path):
    """name -> float32 tensor. Format: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}}, data."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = bytearray(f.read())  # writable, so torch.from_numpy does not warn
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {info['dtype']}, this peer reads F32 checkpoints")
        begin, end = info["data_offsets"]
        array = np.frombuffer(data, dtype="<f4", count=(end - begin) // 4, offset=begin).reshape(info["shape"])
        tensors[name] = torch.from_numpy(array)
    return tensors


class ModernBert:
    def __init__(self, directory):
        with open(os.path.join(directory, "config.json")) as f:
            c = json.load(f)
        self.c = c
        w = read_safetensors(os.path.join(directory, "model.safetensors"))
        p = "model." if "model.embeddings.tok_embeddings.weight" in w else ""
        self.w = w
        self.p = p
        self.hidden = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        self.head_dim = self.hidden // self.heads
        self.layers = c["num_hidden_layers"]
        self.eps = c.get("norm_eps", 1e-5)
        self.every = c.get("global_attn_every_n_layers", 3)
        self.radius = c.get("local_attention", 128) // 2
        self.global_theta = c.get("global_rope_theta", 160000.0)
        self.local_theta = c.get("local_rope_theta", 10000.0)
        self.pooling = c.get("classifier_pooling", "cls")

    def norm(self, name, x):
        return F.layer_norm(x, (self.hidden,), self.w[name + ".weight"], self.w.get(name + ".bias"), self.eps)

    def linear(self, name, x):
        return F.linear(x, self.w[name + ".weight"], self.w.get(name + ".bias"))

    def rotary(self, theta, t):
        """cos, sin [T, dH] as ModernBertRotaryEmbedding: float32 angles, the frequencies repeated for both halves."""
        inv_freq = 1.0 / (theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.int64).float() / self.head_dim))
        freqs = torch.arange(t, dtype=torch.float32)[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()

    @staticmethod
    def rotate_half(x):
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat((-x2, x1), dim=-1)

    def forward(self, ids):
        b, t = ids.shape
        p, nh, dh = self.p, self.heads, self.head_dim
        h = self.norm(p + "embeddings.norm", F.embedding(ids, self.w[p + "embeddings.tok_embeddings.weight"]))
        # The eager path's masks: every token is real (a padded batch of full rows), so the global mask is all zeros and the
        # sliding-window mask adds -inf beyond the window, as transformers' _update_attention_mask builds it.
        distance = (torch.arange(t)[None, :] - torch.arange(t)[:, None]).abs()
        window_mask = torch.zeros(t, t).masked_fill_(distance > self.radius, float("-inf"))
        rope = {True: self.rotary(self.global_theta, t), False: self.rotary(self.local_theta, t)}
        for i in range(self.layers):
            name = f"{p}layers.{i}."
            is_global = i % self.every == 0
            x = h if i == 0 else self.norm(name + "attn_norm", h)
            qkv = self.linear(name + "attn.Wqkv", x).view(b, t, 3, nh, dh)
            q, k, v = qkv.transpose(3, 1).unbind(dim=2)                          # [B, nH, T, dH]
            cos, sin = rope[is_global]
            q = q * cos + self.rotate_half(q) * sin
            k = k * cos + self.rotate_half(k) * sin
            scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(dh)          # [B, nH, T, T]
            if not is_global:
                scores = scores + window_mask
            probabilities = F.softmax(scores, dim=-1, dtype=torch.float32)
            context = torch.matmul(probabilities, v).transpose(1, 2).reshape(b, t, self.hidden)
            h = h + self.linear(name + "attn.Wo", context)
            a, g = self.linear(name + "mlp.Wi", self.norm(name + "mlp_norm", h)).chunk(2, dim=-1)
            h = h + self.linear(name + "mlp.Wo", F.gelu(a) * g)
        h = self.norm(p + "final_norm", h)
        pooled = h.mean(dim=1) if self.pooling == "mean" else h[:, 0]
        pooled = self.norm("head.norm", F.gelu(self.linear("head.dense", pooled)))
        return self.linear("classifier", pooled)


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
    parser.add_argument("--ids", required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model = ModernBert(args.model)
    ids = np.fromfile(args.ids, dtype="<i4")
    if ids.size != args.batch * args.tokens:
        sys.exit(f"{args.ids}: {ids.size} ids, expected {args.batch} x {args.tokens}")
    ids = torch.from_numpy(ids.astype(np.int64)).view(args.batch, args.tokens)
    load_s = time.perf_counter() - started
    with torch.inference_mode():
        logits = model.forward(ids)                                              # warm-up, and the logits the bench checks
        times = []
        clock = time.perf_counter()
        while not times or time.perf_counter() - clock < args.seconds:
            call = time.perf_counter()
            model.forward(ids)
            times.append(time.perf_counter() - call)
        total = time.perf_counter() - clock
    print(json.dumps({
        "per_s": len(times) * args.batch / total,
        "calls": len(times),
        "call_ms": 1000 * statistics.median(times),
        "load_s": load_s,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas_library(),
        "logits": logits.reshape(-1).tolist(),
    }))


if __name__ == "__main__":
    main()
