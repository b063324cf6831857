#!/usr/bin/env python3
"""PyTorch reference for bench/train.ts: LoRA fine-tuning steps of the same
Llama model (bench/models_ref.py's modules, the same config.json and
model.safetensors) with the same LoRA weights (the adapter bench/train.ts
saved, in PEFT's layout), written with torch's Python API as PEFT and
Hugging Face's eager Llama compute them:

  sft   one optimiser step of the LM loss (prompt tokens masked)
  crow  one optimiser step of CROW as the published consistency_trainer.py
        computes it: three forward passes (embeddings with grad and
        C(e).backward(retain_graph) for the FGSM direction, the perturbed pass,
        the plain LM pass), total = LM + alpha * C(e + delta); the gradient is
        cloned before the published code zeroes it (see crow())

Each step: zero_grad, loss, backward, clip_grad_norm_(1.0), AdamW step.

Usage: train_ref.py MODEL_DIR ADAPTER_DIR BATCH_FILE THREADS EPSILON ALPHA
(BATCH_FILE: safetensors with input_ids, attention_mask, labels stored as F32)
Prints "ready <torch version>", then answers each stdin line "sft" or "crow"
with one JSON line {"seconds": s, "loss": l}.
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models_ref import LlamaForCausalLM, read_safetensors  # noqa: E402

IGNORE_INDEX = -100


class LoraLinear(torch.nn.Module):
    """PEFT's LoRA layer: base(x) + lora_B(lora_A(x)) * alpha / r (no dropout)."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base_layer = base
        self.lora_A = torch.nn.Linear(base.in_features, r, bias=False)
        self.lora_B = torch.nn.Linear(r, base.out_features, bias=False)
        self.scaling = alpha / r

    def forward(self, x):
        return self.base_layer(x) + self.lora_B(self.lora_A(x)) * self.scaling


def add_lora(m, adapter_dir):
    with open(os.path.join(adapter_dir, 'adapter_config.json')) as f:
        cfg = json.load(f)
    weights = read_safetensors(os.path.join(adapter_dir, 'adapter_model.safetensors'))
    targets = cfg['target_modules']
    for name, module in list(m.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f'{name}.{child_name}' if name else child_name
            if isinstance(child, torch.nn.Linear) and any(full == t or full.endswith('.' + t) for t in targets):
                lora = LoraLinear(child, cfg['r'], cfg['lora_alpha'])
                with torch.no_grad():
                    lora.lora_A.weight.copy_(weights[f'base_model.model.{full}.lora_A.weight'])
                    lora.lora_B.weight.copy_(weights[f'base_model.model.{full}.lora_B.weight'])
                setattr(module, child_name, lora)


def forward(m, ids=None, embeds=None, mask=None):
    """Logits and Hugging Face's hidden_states (embeddings, block outputs, the last after the final norm)."""
    x = m.model.embed_tokens(ids) if embeds is None else embeds
    b, t, _ = x.shape
    pos = torch.arange(t).unsqueeze(0).expand(b, t)
    freqs = pos.float().unsqueeze(-1) * m.inv_freq
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    allowed = (torch.arange(t).unsqueeze(0) <= torch.arange(t).unsqueeze(1))[None, None]
    if mask is not None:
        allowed = allowed & mask[:, None, None, :].bool()
    additive = torch.where(allowed, 0.0, torch.finfo(torch.float32).min)
    hidden = [x]
    for layer in m.model.layers:
        x = layer(x, cos, sin, additive, None)
        hidden.append(x)
    hidden[-1] = m.model.norm(x)
    return m.lm_head(hidden[-1]).float(), hidden


def lm_loss(logits, labels):
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=IGNORE_INDEX)


def consistency(hidden):
    h = torch.stack(hidden[1:-2])
    nxt = torch.stack(hidden[2:-1])
    return (1 - F.cosine_similarity(h, nxt, dim=-1, eps=1e-8)).mean()


def main():
    model_dir, adapter_dir, batch_file, threads, epsilon, alpha = sys.argv[1:7]
    threads, epsilon, alpha = int(threads), float(epsilon), float(alpha)
    torch.set_num_threads(threads)
    with open(f'{model_dir}/config.json') as f:
        c = json.load(f)
    m = LlamaForCausalLM(c)
    missing, _ = m.load_state_dict(read_safetensors(f'{model_dir}/model.safetensors'), strict=False)
    if missing:
        raise SystemExit(f'missing weights: {missing}')
    for p in m.parameters():
        p.requires_grad_(False)
    add_lora(m, adapter_dir)
    params = [p for n, p in m.named_parameters() if 'lora_' in n]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0)
    data = read_safetensors(batch_file)
    ids, mask, labels = data['input_ids'].long(), data['attention_mask'].long(), data['labels'].long()

    def step(loss_fn):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    def sft():
        logits, _ = forward(m, ids=ids, mask=mask)
        return lm_loss(logits, labels)

    def crow():
        # consistency_trainer.py's compute_loss, pass for pass
        inputs_embeds = m.model.embed_tokens(ids).requires_grad_(True)
        _, hidden = forward(m, embeds=inputs_embeds)
        consistency_loss = consistency(hidden)
        m.zero_grad()
        consistency_loss.backward(retain_graph=True)
        # the published line is `inputs_embeds.grad.detach()`, a view that the
        # zero_() below empties, so its perturbation is 0; the clone keeps the
        # FGSM direction (the paper's δ, what bench/train.ts computes) at the same cost
        gradients = inputs_embeds.grad.detach().clone()
        m.zero_grad()
        inputs_embeds.grad.zero_()
        _, perturbed_hidden = forward(m, embeds=inputs_embeds + epsilon * gradients.sign())
        perturbed = consistency(perturbed_hidden)
        logits, _ = forward(m, ids=ids, mask=mask)
        return lm_loss(logits, labels) + alpha * perturbed

    print(f'ready {torch.__version__}', flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == 'quit':
            break
        t0 = time.perf_counter()
        if cmd == 'sft':
            out = {'loss': step(sft)}
        elif cmd == 'crow':
            out = {'loss': step(crow)}
        else:
            out = {'error': f'unknown command {cmd}'}
        print(json.dumps({'seconds': time.perf_counter() - t0, **out}), flush=True)


if __name__ == '__main__':
    main()
