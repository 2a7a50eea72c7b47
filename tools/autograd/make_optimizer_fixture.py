#!/usr/bin/python3
"""Writes the optimizer/loss fixture of the trainer's tests from PyTorch (Debian's python3-torch 1.13):
BCE-with-logits and listwise cross-entropy values and gradients, and a few AdamW steps with weight decay on one tensor but
not the other, global-norm gradient clipping and transformers' linear warm-up/decay schedule (written with LambdaLR).

    /usr/bin/python3 tools/autograd/make_optimizer_fixture.py tests/CrossEncoder.Training.Tests/Fixtures/optimizer.json
"""
import json, sys
import torch

torch.manual_seed(7)
out = {"generator": "tools/autograd/make_optimizer_fixture.py, torch " + torch.__version__}

# Losses (float64).
logits = torch.tensor([3.5, -2.0, 0.25, 40.0, -40.0, 0.0], dtype=torch.float64, requires_grad=True)
labels = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 0.5], dtype=torch.float64)
bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
bce.backward()
out["bce"] = {"logits": logits.tolist(), "labels": labels.tolist(), "loss": bce.item(), "gradient": logits.grad.tolist()}

group = torch.tensor([[2.0, 1.0, -1.0, 0.5], [-3.0, 4.0, 30.0, 0.0]], dtype=torch.float64, requires_grad=True)
ce = torch.nn.functional.cross_entropy(group, torch.zeros(2, dtype=torch.long))
ce.backward()
out["listwise"] = {"logits": group.flatten().tolist(), "group_size": 4, "loss": ce.item(), "gradient": group.grad.flatten().tolist()}

# AdamW + clipping + schedule, float32 as the trainer runs.
w = torch.nn.Parameter(torch.randn(5, 3))
b = torch.nn.Parameter(torch.randn(3))
w0, b0 = w.detach().clone(), b.detach().clone()
optimizer = torch.optim.AdamW([{"params": [w], "weight_decay": 0.01}, {"params": [b], "weight_decay": 0.0}], lr=0.1, betas=(0.9, 0.999), eps=1e-8)
total, warmup = 6, 2
schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: s / max(1, warmup) if s < warmup else max(0.0, (total - s) / max(1, total - warmup)))
grads, lrs, norms = [], [], []
for step in range(total):
    g_w = torch.randn(5, 3) * (3.0 if step % 2 == 0 else 0.1)
    g_b = torch.randn(3)
    grads.append({"w": g_w.flatten().tolist(), "b": g_b.tolist()})
    w.grad, b.grad = g_w.clone(), g_b.clone()
    norms.append(torch.nn.utils.clip_grad_norm_([w, b], 1.0).item())
    lrs.append(optimizer.param_groups[0]["lr"])
    optimizer.step()
    schedule.step()
out["adamw"] = {
    "w0": w0.flatten().tolist(), "b0": b0.tolist(), "weight_decay": 0.01, "lr": 0.1, "max_norm": 1.0,
    "total_steps": total, "warmup_steps": warmup, "gradients": grads, "learning_rates": lrs, "norms": norms,
    "w": w.detach().flatten().tolist(), "b": b.detach().tolist(),
}
with open(sys.argv[1], "w") as f:
    json.dump(out, f, indent=1)
print("ok", lrs)
