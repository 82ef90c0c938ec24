"""PyTorch eager timings for `npm run bench -- --torch` (bench/run.ts spawns this; never needed by
the build, the tests or CI).

    python3 bench/torch_ops.py in.json out.json

in.json: {"threads": N, "flushBytes": B, "specs": [{"id": i, "device": "cpu"|"cuda", "op": ..., ...}]}
out.json: [{"id": i, "ms": median_ms} | {"id": i, "error": "..."}]

Each spec is the PyTorch equivalent of one bench row, on the same shapes and dtypes, with the same
thread count, timed the way bench/harness.ts times ours: every call starts after a read sweep over
B bytes (cold caches), warm-up calls first, the median of the timed calls. Data is random (values
do not change the work of these ops). The equivalents are what a PyTorch user would write in eager
mode (TRL's selective_log_softmax, transformers' NEFTune hook, F.scaled_dot_product_attention ...).
"""
import gc
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

DT = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "uint8": torch.uint8, "int32": torch.int32}


def rnd(shape, dtype, dev, scale=1.0):
    return (torch.randn(shape, device=dev) * scale).to(DT[dtype])


def sdpa(s, dev):
    q = rnd((s["B"], s["Hq"], s["Tq"], s["d"]), s["dtype"], dev)
    k = rnd((s["B"], s["Hkv"], s["T"], s["d"]), s["dtype"], dev)
    v = rnd((s["B"], s["Hkv"], s["T"], s["d"]), s["dtype"], dev)
    # decode (Tq = 1) attends to every key: no mask (torch's is_causal is top-left aligned)
    return lambda: F.scaled_dot_product_attention(q, k, v, is_causal=bool(s["causal"]), enable_gqa=True)


def vcd(s, dev):
    lg = rnd((s["B"], s["V"]), s["dtype"], dev, 4)
    dg = rnd((s["B"], s["V"]), s["dtype"], dev, 4)
    a, cut = s["alpha"], math.log(s["beta"])

    def f():
        lf, df = lg.float(), dg.float()
        out = (1 + a) * lf - a * df
        return out.masked_fill_(lf < lf.amax(-1, keepdim=True) + cut, -math.inf)

    return f


def cosine(s, dev):
    a = torch.randn(s["n"], s["e"], device=dev)
    b = torch.randn(s["m"], s["e"], device=dev)
    if s["paired"]:
        return lambda: F.cosine_similarity(a, b, dim=-1)
    return lambda: F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T


def rms_norm(s, dev):
    x = rnd((s["rows"], s["D"]), s["dtype"], dev)
    w = rnd((s["D"],), s["dtype"], dev)
    return lambda: F.rms_norm(x, (s["D"],), w, 1e-6)


def swiglu(s, dev):
    g = rnd((s["rows"], s["I"]), s["dtype"], dev)
    u = rnd((s["rows"], s["I"]), s["dtype"], dev)
    o = torch.empty_like(g)
    return lambda: torch.mul(F.silu(g), u, out=o)


def rotary(s, dev):
    H, T, d = s["H"], s["T"], s["d"]
    q = rnd((1, H, T, d), s["dtype"], dev)
    inv = 1.0 / (10000 ** (torch.arange(0, d, 2, device=dev).float() / d))
    ang = torch.outer(torch.arange(T, device=dev).float(), inv)
    emb = torch.cat((ang, ang), -1)
    cos, sin = emb.cos().to(q.dtype), emb.sin().to(q.dtype)

    def f():  # transformers' apply_rotary_pos_emb (rotate_half)
        x1, x2 = q[..., : d // 2], q[..., d // 2 :]
        return q * cos + torch.cat((-x2, x1), -1) * sin

    return f


def diffuse(s, dev):
    shape = s["shape"]
    sa, sb = math.sqrt(0.5), math.sqrt(0.5)
    if s["dtype"] == "uint8":
        x = torch.randint(0, 256, shape, dtype=torch.uint8, device=dev)
        mean = torch.tensor([0.48145466, 0.4578275, 0.40821073], device=dev)[:, None, None]
        std = torch.tensor([0.26862954, 0.26130258, 0.27577711], device=dev)[:, None, None]

        def f():
            xf = (x.float() / 255 - mean) / std
            return sa * xf + sb * torch.randn_like(xf)

        return f
    x = rnd(shape, s["dtype"], dev)

    def g():
        eps = torch.randn_like(x)
        return sa * x + sb * eps, eps

    return g


def linear(s, dev):
    x = rnd((s["m"], s["k"]), s["dtype"], dev)
    w = rnd((s["n"], s["k"]), s["dtype"], dev)
    b = rnd((s["n"],), s["dtype"], dev)
    return lambda: F.linear(x, w, b)


def logsumexp(s, dev):
    x = rnd((s["rows"], s["cols"]), s["dtype"], dev, 4)
    return lambda: torch.logsumexp(x, -1)


def neftune(s, dev):
    x = rnd((s["B"], s["L"], s["D"]), "bfloat16", dev)
    mag = s["alpha"] / math.sqrt(s["L"] * s["D"])
    # transformers' neftune_post_forward_hook: uniform noise on the whole embedding output
    return lambda: x + torch.zeros_like(x).uniform_(-mag, mag)


def permute(s, dev):
    x = rnd(tuple(s["shape"]), s["dtype"], dev)
    return lambda: x.permute(0, 2, 1, 3).contiguous()


def prediction_loss(s, dev):
    p = rnd(tuple(s["shape"]), s["dtype"], dev)
    e = rnd(tuple(s["shape"]), s["dtype"], dev)
    B = s["shape"][0]
    w = torch.full((B,), 0.5, device=dev)  # min-SNR weights at one timestep
    dims = tuple(range(1, len(s["shape"])))
    n = p[0].numel()

    def f():
        d = p.float() - e.float()
        per = d.square().mean(dims)
        loss = (per * w).mean()
        if s["grad"]:
            return loss, d * (2 * w / (n * B)).view(B, *([1] * len(dims)))
        return loss

    return f


def random_(s, dev):
    n, kind = s["n"], s["kind"]
    out = torch.empty(n, dtype=DT[s["dtype"]], device=dev)
    if kind == "normal":
        return lambda: torch.randn(n, out=out)
    if kind == "uniform":
        return lambda: torch.rand(n, out=out)
    return lambda: out.random_()


def sample(s, dev):
    x = rnd((s["B"], s["V"]), s["dtype"], dev, 4)
    T, k, p = s.get("temperature"), s.get("topK"), s.get("topP")

    def f():  # transformers' logits processors (temperature, top-k, top-p) + multinomial
        lg = x.float()
        if T:
            lg = lg / T
        if k:
            kth = torch.topk(lg, k).values[..., -1:]
            lg = lg.masked_fill(lg < kth, -math.inf)
        if p:
            sl, si = torch.sort(lg, descending=False)
            cum = sl.softmax(-1).cumsum(-1)
            remove = cum <= 1 - p
            remove[..., -1:] = False
            lg = lg.masked_fill(remove.scatter(1, si, remove), -math.inf)
        probs = lg.softmax(-1)
        tok = torch.multinomial(probs, 1)
        return tok, probs.gather(-1, tok).log()

    return f


def _labels(s, dev):
    return torch.randint(0, s["V"], (s["B"], s["T"]), device=dev)


def sequence_logps(s, dev):
    x = rnd((s["B"], s["T"], s["V"]), s["dtype"], dev, 4)
    lab = _labels(s, dev)

    def f():  # TRL selective_log_softmax, then the per-sequence sum
        if x.dtype in (torch.float32, torch.float64):
            sel = torch.gather(x, -1, lab.unsqueeze(-1)).squeeze(-1)
            lse = torch.stack([torch.logsumexp(r, dim=-1) for r in x])
            per = sel - lse
        else:
            per = torch.stack([F.log_softmax(r, dim=-1).gather(-1, l.unsqueeze(-1)).squeeze(-1) for r, l in zip(x, lab)])
        return per.sum(-1)

    return f


def logps_backward(s, dev):
    x = rnd((s["B"], s["T"], s["V"]), s["dtype"], dev, 4)
    lab = _labels(s, dev)
    g = torch.tensor([0.5 if b % 2 == 0 else -0.5 for b in range(s["B"])], device=dev)

    def f():  # d(sum_t g_b logp)/dlogits = g_b (onehot - softmax), written over the logits
        for b in range(s["B"]):
            p = torch.softmax(x[b].float(), -1).mul_(-g[b])
            p.scatter_add_(-1, lab[b].unsqueeze(-1), g[b].expand(s["T"], 1).contiguous())
            x[b].copy_(p)

    return f


def visual_tokens(s, dev):
    B, L, D, st, N = s["B"], s["L"], s["D"], s["start"], s["N"]
    x = rnd((B, L, D), s["dtype"], dev)
    sigma = s["sigma"]

    def f():
        y = x if s["inPlace"] else x.clone()
        v = y[:, st : st + N]
        scale = sigma if s["scale"] == "absolute" else sigma * v.float().std(-1, keepdim=True)
        v.add_((torch.randn(v.shape, device=dev) * scale).to(v.dtype))
        return y

    return f


def rms_norm_backward(s, dev):  # eager autograd: the backward of F.rms_norm only (graph built once)
    x = rnd((s["rows"], s["D"]), s["dtype"], dev).requires_grad_()
    w = rnd((s["D"],), s["dtype"], dev).requires_grad_()
    dy = rnd((s["rows"], s["D"]), s["dtype"], dev)
    y = F.rms_norm(x, (s["D"],), w, 1e-6)
    return lambda: torch.autograd.grad(y, (x, w), dy, retain_graph=True)


def swiglu_backward(s, dev):
    g = rnd((s["rows"], s["I"]), s["dtype"], dev).requires_grad_()
    u = rnd((s["rows"], s["I"]), s["dtype"], dev).requires_grad_()
    dy = rnd((s["rows"], s["I"]), s["dtype"], dev)
    y = F.silu(g) * u
    return lambda: torch.autograd.grad(y, (g, u), dy, retain_graph=True)


def rotary_backward(s, dev):
    H, T, d = s["H"], s["T"], s["d"]
    q = rnd((1, H, T, d), s["dtype"], dev).requires_grad_()
    dy = rnd((1, H, T, d), s["dtype"], dev)
    inv = 1.0 / (10000 ** (torch.arange(0, d, 2, device=dev).float() / d))
    ang = torch.outer(torch.arange(T, device=dev).float(), inv)
    emb = torch.cat((ang, ang), -1)
    cos, sin = emb.cos().to(q.dtype), emb.sin().to(q.dtype)
    x1, x2 = q[..., : d // 2], q[..., d // 2 :]
    y = q * cos + torch.cat((-x2, x1), -1) * sin  # transformers' apply_rotary_pos_emb
    return lambda: torch.autograd.grad(y, q, dy, retain_graph=True)
def cross_entropy(s, dev):
    x = rnd((s["N"], s["V"]), s["dtype"], dev, 4)
    lab = torch.randint(0, s["V"], (s["N"],), device=dev)

    def f():  # Hugging Face ForCausalLMLoss: upcast, F.cross_entropy (mean, ignore_index -100)
        if not s["grad"]:
            with torch.no_grad():
                return F.cross_entropy(x.float(), lab, ignore_index=-100)
        xg = x.detach().requires_grad_()
        loss = F.cross_entropy(xg.float(), lab, ignore_index=-100)
        loss.backward()
        return loss, xg.grad

    return f


def adamw(s, dev):
    # torch.optim.AdamW on the same tensor list; bf16 + master: AdamW on float32 master copies, then
    # the bf16 params copied from them (what a mixed-precision trainer does), one step per call
    dt = DT[s["dtype"]]
    master = bool(s.get("master"))
    ps = [torch.nn.Parameter(torch.randn(n, device=dev)) for n in s["sizes"]]
    for p in ps:
        p.grad = torch.randn(p.shape[0], device=dev)
    low = [p.detach().to(dt) for p in ps] if master else None
    low_grads = [p.grad.to(dt) for p in ps] if master else None
    kw = {"fused": True} if s.get("fused") else {"foreach": True}
    opt = torch.optim.AdamW(ps, lr=1e-4, weight_decay=0.01, **kw)

    def f():
        if master:
            torch._foreach_copy_([p.grad for p in ps], low_grads)
        opt.step()
        if master:
            torch._foreach_copy_(low, [p.detach() for p in ps])

    return f


def clip_grad_norm(s, dev):
    ps = [torch.nn.Parameter(torch.empty(n, device=dev, dtype=DT[s["dtype"]])) for n in s["sizes"]]
    for p in ps:
        p.grad = torch.randn(p.shape[0], device=dev).to(p.dtype)
    return lambda: torch.nn.utils.clip_grad_norm_(ps, 1e30, foreach=True)
def gelu(s, dev):
    x = rnd((s["rows"], s["D"]), s["dtype"], dev)
    return lambda: F.gelu(x, approximate=s["approximate"])


def gelu_backward(s, dev):
    x = rnd((s["rows"], s["D"]), s["dtype"], dev)
    dy = rnd((s["rows"], s["D"]), s["dtype"], dev)
    # the kernel autograd runs for F.gelu
    return lambda: torch.ops.aten.gelu_backward(dy, x, approximate=s["approximate"])


def embedding_backward(s, dev):
    N, V = s["N"], s["V"]
    dy = rnd((N, s["D"]), s["dtype"], dev).float()
    g = torch.Generator().manual_seed(0)
    tok = torch.where(torch.rand(N, generator=g) < 1 / 3, 0, torch.randint(0, V, (N,), generator=g)).to(dev)
    # the kernel autograd runs for F.embedding; dy in float32 so the gradient is float32, as mmpref's
    return lambda: torch.ops.aten.embedding_dense_backward(dy, tok, V, -1, False)


OPS = {
    "sdpa": sdpa, "vcd": vcd, "cosine": cosine, "rms_norm": rms_norm, "swiglu": swiglu, "rotary": rotary,
    "diffuse": diffuse, "linear": linear, "logsumexp": logsumexp, "neftune": neftune, "permute": permute,
    "prediction_loss": prediction_loss, "random": random_, "sample": sample, "sequence_logps": sequence_logps,
    "logps_backward": logps_backward, "visual_tokens": visual_tokens,
    "adamw": adamw, "clip_grad_norm": clip_grad_norm,
}
OPS.update({"rms_norm_backward": rms_norm_backward, "swiglu_backward": swiglu_backward, "rotary_backward": rotary_backward})
OPS["cross_entropy"] = cross_entropy
OPS.update({"gelu": gelu, "gelu_backward": gelu_backward, "embedding_backward": embedding_backward})


def linear_backward(s, dev):  # eager autograd of F.linear: dx, dW, db (torch's dW/db in the input dtype)
    x = rnd((s["m"], s["k"]), s["dtype"], dev).requires_grad_()
    w = rnd((s["n"], s["k"]), s["dtype"], dev).requires_grad_()
    b = rnd((s["n"],), s["dtype"], dev).requires_grad_()
    dy = rnd((s["m"], s["n"]), s["dtype"], dev)
    y = F.linear(x, w, b)
    return lambda: torch.autograd.grad(y, [x, w, b], dy, retain_graph=True)


OPS["linear_backward"] = linear_backward

def sdpa_backward(s, dev):
    """The backward of F.scaled_dot_product_attention alone: autograd.grad of the retained graph
    (forward once, outside the timing), dq/dk/dv in the inputs' dtype."""
    q, k, v = (rnd((s["B"], h, t, s["d"]), s["dtype"], dev).requires_grad_()
               for h, t in ((s["Hq"], s["Tq"]), (s["Hkv"], s["T"]), (s["Hkv"], s["T"])))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=bool(s["causal"]), enable_gqa=True)
    g = torch.randn_like(out)
    return lambda: torch.autograd.grad(out, (q, k, v), g, retain_graph=True)


OPS["sdpa_backward"] = sdpa_backward


def train_step(s, dev):  # transformers LlamaForCausalLM (+ PEFT LoRA r16 on all projections), AdamW, float32 eager
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=s["vocabSize"], hidden_size=s["hiddenSize"], intermediate_size=s["intermediateSize"],
                      num_hidden_layers=s["numLayers"], num_attention_heads=s["numHeads"], num_key_value_heads=s["numKvHeads"],
                      rope_theta=s["ropeTheta"], rms_norm_eps=s["rmsNormEps"], max_position_embeddings=max(2048, s["T"]))
    model = LlamaForCausalLM(cfg).to(dev)
    if s["mode"] == "lora":
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules=[
            "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    ids = (torch.arange(s["B"] * s["T"], device=dev) * 7919 + 13) % s["vocabSize"]
    ids = ids.reshape(s["B"], s["T"])

    def f():
        out = model(input_ids=ids, labels=ids)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return f


OPS["train_step"] = train_step



def time_ms(fn, dev, flush):
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)

    def once():
        flush.sum().item()  # evict the caches: a read sweep over >= 4x the LLC
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        return (time.perf_counter() - t0) * 1e3

    first = once()
    warmup, reps = (1, 3) if first > 300 else (2, 7)
    for _ in range(warmup - 1):
        once()
    return statistics.median(once() for _ in range(reps))


def main():
    cfg = json.load(open(sys.argv[1]))
    torch.set_num_threads(int(cfg["threads"]))
    torch.manual_seed(0)
    out = []
    flushes = {}
    for s in cfg["specs"]:
        dev = s.get("device", "cpu")
        try:
            if dev not in flushes:
                flushes[dev] = torch.ones(int(cfg["flushBytes"]) // 4, device=dev)
            fn = OPS[s["op"]](s, dev)
            ms = time_ms(fn, dev, flushes[dev])
            out.append({"id": s["id"], "ms": ms})
            print(f"torch {dev} {s['op']:<16} {ms:10.3f} ms", flush=True)
        except Exception as e:  # one failing op must not lose the others
            out.append({"id": s["id"], "error": f"{type(e).__name__}: {e}"[:200]})
            print(f"torch {dev} {s['op']:<16} failed: {e}", flush=True)
        fn = None
        gc.collect()
    json.dump(out, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
