#!/usr/bin/python3
"""Writes the whole-model gradient fixture of BertTrainingModelTests: a tiny random BertForSequenceClassification, a batch
of three sequences of different lengths, the binary cross-entropy loss and every parameter's gradient from PyTorch autograd.

Run with Debian's torch (python3-torch 1.13; no `transformers` needed, the model is written out below following
transformers' modeling_bert.py: post-LN layers, erf GELU, additive padding mask, pooler tanh on [CLS], linear classifier):

    /usr/bin/python3 tools/autograd/make_bert_fixture.py tests/CrossEncoder.Native.Tests/Fixtures/bert-autograd

Output: config.json, model.safetensors (F32 weights), gradients.safetensors (F32 dLoss/dparameter, same names) and
fixture.json (inputs, labels, logits, loss). The computation runs in float64 on the float32 weights, so the reference is
exact to float32's resolution. Dropout is off (eval-mode numerics with autograd on)."""
import json, math, os, struct, sys
import torch

torch.manual_seed(20261204)
V, H, NH, I, L, P, TV = 30, 24, 4, 48, 2, 32, 2
DH = H // NH
EPS = 1e-12

def rand(*shape, scale=0.5, offset=0.0):
    return (torch.rand(*shape, dtype=torch.float32) * 2 - 1) * scale + offset

params = {}
params["bert.embeddings.word_embeddings.weight"] = rand(V, H)
params["bert.embeddings.position_embeddings.weight"] = rand(P, H)
params["bert.embeddings.token_type_embeddings.weight"] = rand(TV, H)
params["bert.embeddings.LayerNorm.weight"] = rand(H, scale=0.2, offset=1.0)
params["bert.embeddings.LayerNorm.bias"] = rand(H, scale=0.2)
for l in range(L):
    s = f"bert.encoder.layer.{l}."
    for m in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
        params[s + m + ".weight"] = rand(H, H, scale=0.4)
        params[s + m + ".bias"] = rand(H, scale=0.2)
    params[s + "attention.output.LayerNorm.weight"] = rand(H, scale=0.2, offset=1.0)
    params[s + "attention.output.LayerNorm.bias"] = rand(H, scale=0.2)
    params[s + "intermediate.dense.weight"] = rand(I, H, scale=0.4)
    params[s + "intermediate.dense.bias"] = rand(I, scale=0.2)
    params[s + "output.dense.weight"] = rand(H, I, scale=0.3)
    params[s + "output.dense.bias"] = rand(H, scale=0.2)
    params[s + "output.LayerNorm.weight"] = rand(H, scale=0.2, offset=1.0)
    params[s + "output.LayerNorm.bias"] = rand(H, scale=0.2)
params["bert.pooler.dense.weight"] = rand(H, H, scale=0.4)
params["bert.pooler.dense.bias"] = rand(H, scale=0.2)
params["classifier.weight"] = rand(1, H, scale=0.8)
params["classifier.bias"] = rand(1, scale=0.5)

lengths = [5, 9, 13]
T = max(lengths)
ids = torch.zeros(len(lengths), T, dtype=torch.long)
types = torch.zeros(len(lengths), T, dtype=torch.long)
mask = torch.zeros(len(lengths), T)
for b, n in enumerate(lengths):
    ids[b, :n] = torch.randint(0, V, (n,))
    cut = n // 2
    types[b, cut:n] = 1
    mask[b, :n] = 1
labels = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)

w = {k: v.double().requires_grad_(True) for k, v in params.items()}

def layer_norm(x, name):
    return torch.nn.functional.layer_norm(x, (H,), w[name + ".weight"], w[name + ".bias"], EPS)

def linear(x, name):
    return x @ w[name + ".weight"].T + w[name + ".bias"]

positions = torch.arange(T).unsqueeze(0).expand(len(lengths), T)
x = w["bert.embeddings.word_embeddings.weight"][ids] + w["bert.embeddings.token_type_embeddings.weight"][types]
x = x + w["bert.embeddings.position_embeddings.weight"][positions]
x = layer_norm(x, "bert.embeddings.LayerNorm")
additive = (1.0 - mask.double())[:, None, None, :] * torch.finfo(torch.float64).min
for l in range(L):
    s = f"bert.encoder.layer.{l}."
    def heads(t):
        return t.view(len(lengths), T, NH, DH).transpose(1, 2)
    q, k, v = (heads(linear(x, s + "attention.self." + m)) for m in ["query", "key", "value"])
    scores = q @ k.transpose(-1, -2) / math.sqrt(DH) + additive
    probs = torch.softmax(scores, dim=-1)
    context = (probs @ v).transpose(1, 2).reshape(len(lengths), T, H)
    x = layer_norm(linear(context, s + "attention.output.dense") + x, s + "attention.output.LayerNorm")
    inner = torch.nn.functional.gelu(linear(x, s + "intermediate.dense"))
    x = layer_norm(linear(inner, s + "output.dense") + x, s + "output.LayerNorm")
pooled = torch.tanh(linear(x[:, 0], "bert.pooler.dense"))
logits = linear(pooled, "classifier")
loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], labels)
loss.backward()

def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        data = t.detach().float().contiguous().numpy().tobytes() if hasattr(t, "numpy") else t
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
write_safetensors(os.path.join(out, "model.safetensors"), params)
write_safetensors(os.path.join(out, "gradients.safetensors"), {k: t.grad for k, t in w.items()})
config = {
    "architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": V, "hidden_size": H,
    "num_hidden_layers": L, "num_attention_heads": NH, "intermediate_size": I, "hidden_act": "gelu",
    "max_position_embeddings": P, "type_vocab_size": TV, "layer_norm_eps": EPS, "pad_token_id": 0,
    "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
    "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0},
}
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
fixture = {
    "generator": "tools/autograd/make_bert_fixture.py, torch " + torch.__version__ + ", float64 on float32 weights",
    "input_ids": [ids[b, :n].tolist() for b, n in enumerate(lengths)],
    "token_type_ids": [types[b, :n].tolist() for b, n in enumerate(lengths)],
    "labels": labels.tolist(),
    "logits": logits[:, 0].tolist(),
    "loss": loss.item(),
    "loss_name": "binary_cross_entropy_with_logits, mean over the batch",
}
with open(os.path.join(out, "fixture.json"), "w") as f:
    json.dump(fixture, f, indent=1)
print(f"loss {loss.item():.9f}, logits {logits[:, 0].tolist()}")
