#!/usr/bin/env python3
"""Checks mmpref's Hugging Face checkpoints and PEFT adapters against transformers and PEFT, both ways.

Not part of CI (mmpref needs no Python); run by hand from a checkout with the addon built:
    python3 scripts/hf_interop.py [workdir]
1. mmpref saves tiny LLaMA and Qwen2 (q/k/v bias, tied embeddings) models + LoRA adapters on all
   seven projections (scripts/hf_interop.ts save); transformers loads each model, PEFT each adapter;
   logits are compared with mmpref's.
2. transformers saves tiny LlamaForCausalLM, Qwen2ForCausalLM and LlavaForConditionalGeneration
   models (float32, and one bfloat16), PEFT saves LoRA adapters (random A and B); mmpref loads
   them (scripts/hf_interop.ts load) and its logits are compared with transformers'/PEFT's; mmpref
   saves each again and transformers loads that copy (LLaVA: the vision tower is not written, so
   transformers initialises it randomly; the text-only logits compared do not use it).
Prints the largest absolute logit difference of every case; exits 1 if one exceeds 1e-4.
"""
import json
import os
import subprocess
import sys
import tempfile

import torch
import transformers
import peft
from transformers import (AutoModelForCausalLM, CLIPVisionConfig, LlamaConfig, LlamaForCausalLM, LlavaConfig,
                          LlavaForConditionalGeneration, Qwen2Config, Qwen2ForCausalLM)
from peft import LoraConfig, PeftModel, get_peft_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PROMPT = [1, 5, 17, 3, 60, 2, 9, 11, 42, 7]
TOL = 1e-4


def tsx(*args):
    subprocess.run(["npx", "tsx", os.path.join(ROOT, "scripts", "hf_interop.ts"), *args], cwd=ROOT, check=True)


@torch.no_grad()
def logits_of(model, prompt):
    return model(input_ids=torch.tensor([prompt])).logits[0].float()


def report(results, name, ours, theirs):
    diff = (torch.tensor(ours) - theirs).abs().max().item()
    scale = theirs.abs().max().item()
    results.append((name, diff))
    print(f"{name:44s} max |logit diff| {diff:.3e}  (max |logit| {scale:.2f})")


def mmpref_to_hf(work, results):
    tsx("save", work)
    for case in ("mmpref_llama", "mmpref_qwen2"):
        d = os.path.join(work, case)
        ours = json.load(open(os.path.join(d, "mmpref_logits.json")))
        prompt = json.load(open(os.path.join(d, "prompt.json")))
        model = AutoModelForCausalLM.from_pretrained(os.path.join(d, "model"), dtype=torch.float32).eval()
        report(results, f"{case}: transformers base", ours["base"], logits_of(model, prompt))
        lora = PeftModel.from_pretrained(model, os.path.join(d, "adapter")).eval()
        report(results, f"{case}: PEFT LoRA", ours["lora"], logits_of(lora, prompt))


def hf_to_mmpref(work, results):
    torch.manual_seed(0)
    tiny = dict(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, initializer_range=0.2, max_position_embeddings=64)
    cases = {
        "hf_llama": LlamaForCausalLM(LlamaConfig(**tiny, rope_theta=500000.0, rms_norm_eps=1e-5)),
        "hf_qwen2": Qwen2ForCausalLM(Qwen2Config(**tiny, rope_theta=1e6, tie_word_embeddings=True)),
        "hf_llama_bf16": LlamaForCausalLM(LlamaConfig(**tiny, head_dim=8)).to(torch.bfloat16),
        "hf_llava": LlavaForConditionalGeneration(LlavaConfig(
            vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                           image_size=28, patch_size=14),
            text_config=LlamaConfig(**tiny), image_token_index=96)),
    }
    for name, model in cases.items():
        d = os.path.join(work, name)
        model.eval()
        # transformers' init leaves RMSNorm weights at 1 and biases at 0: perturb them so they are tested
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "norm" in n or n.endswith(".bias"):
                    p.add_(0.1 * torch.randn_like(p))
        model.save_pretrained(os.path.join(d, "model"))
        json.dump(PROMPT, open(os.path.join(d, "prompt.json"), "w"))
        # a bfloat16 checkpoint: mmpref loads it as float32 (exact); compare with transformers reloading it
        # as float32 (model.float() would keep the rotary inv_freq buffer rounded to bfloat16)
        ref = model if name != "hf_llama_bf16" else AutoModelForCausalLM.from_pretrained(os.path.join(d, "model"), dtype=torch.float32).eval()
        base = logits_of(ref, PROMPT)
        entry = {"base": base}
        if name in ("hf_llama", "hf_qwen2"):
            pm = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=TARGETS, init_lora_weights=False,
                                                 task_type="CAUSAL_LM")).eval()
            pm.save_pretrained(os.path.join(d, "adapter"))
            entry["lora"] = logits_of(pm, PROMPT)
        cases[name] = entry
    tsx("load", work)
    for name, entry in cases.items():
        ours = json.load(open(os.path.join(work, name, "mmpref_logits.json")))
        report(results, f"{name}: mmpref base", ours["base"], entry["base"])
        cls = LlavaForConditionalGeneration if name == "hf_llava" else AutoModelForCausalLM
        again = cls.from_pretrained(os.path.join(work, name, "resaved"), dtype=torch.float32).eval()
        report(results, f"{name}: saved by mmpref, transformers", ours["base"], logits_of(again, PROMPT))
        if "lora" in entry:
            report(results, f"{name}: mmpref LoRA (PEFT adapter)", ours["lora"], entry["lora"])


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="mmpref-interop-")
    os.makedirs(work, exist_ok=True)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}; work dir {work}")
    results = []
    mmpref_to_hf(work, results)
    hf_to_mmpref(work, results)
    worst = max(d for _, d in results)
    print(f"worst {worst:.3e} (tolerance {TOL})")
    sys.exit(0 if worst <= TOL else 1)


if __name__ == "__main__":
    main()
