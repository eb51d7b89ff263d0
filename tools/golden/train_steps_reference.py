"""Step-for-step training goldens from the REAL Hugging Face stack (torch + transformers + peft):
N AdamW steps of LoRA / DoRA training from a given initial adapter, with the per-step losses and the
final adapter, for core/src/test/java/finetune4j/train/TrainStepsParityTest.java (and the CLI test
cli/src/test/java/finetune4j/cli/TrainCommandTest.java).

Environment: the reference venv (torch 2.13 CPU, transformers 5.17, peft 0.21, tokenizers 0.23,
safetensors 0.8):
    python -m venv /work/venv && /work/venv/bin/pip install --no-index --find-links /opt/pypi/files \
        torch transformers peft tokenizers safetensors numpy
Rerun from the repository root:
    /work/venv/bin/python tools/golden/train_steps_reference.py
Deterministic (seeded; one thread; deterministic algorithms): rerunning rewrites identical files.

What it makes, under core/src/test/resources/golden/train_steps/:
    model/        a tiny Llama (2 layers, hidden 32, 4 heads / 2 KV heads, FFN 64, vocab 96, untied
                  lm_head, context 64), random N(0, 0.1) weights from torch.manual_seed(0), saved with
                  save_pretrained (F32), plus a character-level SentencePiece-style BPE tokenizer
                  (tokenizer.json: Prepend "▁" + Replace " "→"▁" normalizer, a few merges, <s> added by
                  the post-processor, no byte fallback) and tokenizer_config.json (bos <s>, eos </s>).
    train.jsonl   8 records ({"text"} and {"prompt", "completion"}) of different lengths (12..47 tokens).
    init_lora/    a PEFT adapter (r 4, alpha 8, all seven Llama projections, dropout 0) made with
                  get_peft_model and then filled with nonzero A and B (0.15·N(0,1)); save_pretrained.
    init_dora/    the same with use_dora=True; the magnitude (PEFT's ‖W‖ at init) scaled by 1 + 0.1·N(0,1).
    <run>/        the adapter after training (save_pretrained), for each run below.
    manifest.json per run: settings, per-step losses (float64 of the float32 loss), target tokens per
                  micro-batch; the tokenized data; versions.

The training semantics reproduced (what finetune4j's `train` does with `--init-adapter DIR
--no-shuffle --dropout 0 --schedule constant --grad-clip 0`):
  * tokenization as TRL's SFTTrainer: ids = tokenizer(text) (BOS from the post-processor) + [EOS];
    prompt/completion: ids = tokenizer(prompt + completion) + [EOS], the first len(tokenizer(prompt))
    labels are -100 (TRL's completion mask);
  * batches: consecutive records in file order, BATCH per micro-batch, epoch after epoch (the last
    micro-batch of an epoch may be smaller; with 8 records and BATCH 2 it never is), right-padded with
    the EOS id, attention_mask 0 and labels -100 on padding;
  * the loss of an optimizer step is TOKEN-WEIGHTED over its ACCUM micro-batches (torchtune; what
    HF Trainer does since transformers 4.46 by passing num_items_in_batch): each micro-batch's
    summed next-token cross-entropy is divided by N = the target tokens of the WHOLE step and the
    gradients accumulate; the reported loss is Σ CE / N. This is written out explicitly below (the
    mean of per-micro-batch means, what a naive loop computes, differs when micro-batches hold
    different numbers of targets). The script checks that transformers' own loss with
    num_items_in_batch=N gives the same value;
  * torch.optim.AdamW(lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=WD) over the adapter's
    trainable parameters, constant LR, no clipping, dropout 0.

Runs: lora_accum1 (BATCH 2, ACCUM 1), lora_accum2 (BATCH 2, ACCUM 2), dora_accum1, dora_accum2,
lora_wd (ACCUM 2, weight decay 0.1: every LoRA matrix decays, as in HF Trainer, whose no-decay list
holds only biases and norms); STEPS 5, LR 1e-2.
"""
import json
import os
import shutil

import peft
import safetensors.torch
import tokenizers
import torch
import torch.nn.functional as F
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "core", "src", "test", "resources", "golden", "train_steps")
MODEL = os.path.join(OUT, "model")
DATA = os.path.join(OUT, "train.jsonl")
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
STEPS = 5
BATCH = 2
LR = 1e-2
MAX_SEQ_LEN = 64

RUNS = {
    "lora_accum1": dict(init="init_lora", accum=1, wd=0.0),
    "lora_accum2": dict(init="init_lora", accum=2, wd=0.0),
    "dora_accum1": dict(init="init_dora", accum=1, wd=0.0),
    "dora_accum2": dict(init="init_dora", accum=2, wd=0.0),
    "lora_wd": dict(init="init_lora", accum=2, wd=0.1),
}

RECORDS = [
    {"text": "the cat sat on the mat."},
    {"prompt": "q: what is red? a:", "completion": " a red apple is red, and so is a ripe tomato."},
    {"text": "a dog ran in the park and then it ran home to eat."},
    {"prompt": "say hi:", "completion": " hi!"},
    {"text": "tom and mia went to the lake. they saw a duck, a fish and a frog there."},
    {"text": "rain."},
    {"prompt": "count: one, two,", "completion": " three, four, five, six."},
    {"text": "the sun is hot and the sea is blue."},
]

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


# ----------------------------------------------------------------------------- the tiny model
def tokenizer_json():
    special = ["<unk>", "<s>", "</s>"]
    chars = ["▁"] + list("abcdefghijklmnopqrstuvwxyz") + list("0123456789") + list(".,!?:;'-")
    merges = [("t", "h"), ("th", "e"), ("▁", "the"), ("▁", "a"), ("i", "n"), ("e", "r"), ("a", "n"),
              ("o", "n"), ("▁", "t"), ("▁", "s"), ("e", "d"), ("an", "d"), ("▁", "and"), ("o", "u"),
              ("i", "s"), ("▁", "is")]
    vocab = {}
    for t in special + chars:
        vocab[t] = len(vocab)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [
            {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
             "special": True} for i, t in enumerate(special)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [[a, b] for a, b in merges]},
    }


def make_model():
    if os.path.isdir(MODEL):
        shutil.rmtree(MODEL)
    os.makedirs(MODEL)
    cfg = LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=MAX_SEQ_LEN,
                      rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                      pad_token_id=None, initializer_range=0.1)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).to(torch.float32)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
    model.save_pretrained(MODEL, safe_serialization=True)
    tj = tokenizer_json()
    with open(os.path.join(MODEL, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False, indent=2)
        f.write("\n")
    with open(os.path.join(MODEL, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                   "model_max_length": MAX_SEQ_LEN, "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=2)
        f.write("\n")


def load_base():
    return LlamaForCausalLM.from_pretrained(MODEL, dtype=torch.float32, attn_implementation="eager")


# ----------------------------------------------------------------------------- data (TRL-style)
def tokenize(tok, eos):
    out = []
    for r in RECORDS:
        if "text" in r:
            ids = tok.encode(r["text"]).ids + [eos]
            labels = list(ids)
        else:
            n_prompt = len(tok.encode(r["prompt"]).ids)
            ids = tok.encode(r["prompt"] + r["completion"]).ids + [eos]
            labels = [-100] * n_prompt + ids[n_prompt:]
        assert tok.token_to_id("<unk>") not in ids, r
        assert len(ids) <= MAX_SEQ_LEN
        out.append((ids, labels))
    return out


def micro_batches(data, batch, pad):
    """finetune4j BatchIterator without shuffling: consecutive records, epoch after epoch."""
    i = 0
    while True:
        if i >= len(data):
            i = 0
        rows = data[i:i + batch]
        i += len(rows)
        t = max(len(ids) for ids, _ in rows)
        ids = [r[0] + [pad] * (t - len(r[0])) for r in rows]
        mask = [[1] * len(r[0]) + [0] * (t - len(r[0])) for r in rows]
        labels = [r[1] + [-100] * (t - len(r[1])) for r in rows]
        yield torch.tensor(ids), torch.tensor(mask), torch.tensor(labels)


def targets(labels):
    return int((labels[:, 1:] != -100).sum())


# ----------------------------------------------------------------------------- adapters
def file_key(param_name):
    k = param_name.removeprefix("base_model.model.").replace(".default", "")
    return k.removesuffix(".weight") if k.endswith("lora_magnitude_vector.weight") else k


def make_init(name, use_dora, seed):
    torch.manual_seed(seed)
    pm = get_peft_model(load_base(), LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=TARGETS,
                                                use_dora=use_dora, task_type="CAUSAL_LM"))
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if not p.requires_grad:
                continue
            if "lora_magnitude_vector" in n:
                p.mul_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.15 * torch.randn(p.shape, generator=gen))
    d = os.path.join(OUT, name)
    save(pm, d)


def save(pm, d):
    if os.path.isdir(d):
        shutil.rmtree(d)
    pm.save_pretrained(d)
    readme = os.path.join(d, "README.md")
    if os.path.exists(readme):
        os.remove(readme)
    # the base path is this machine's absolute path: store the repository-relative one
    cfg_file = os.path.join(d, "adapter_config.json")
    with open(cfg_file, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg["base_model_name_or_path"] = "core/src/test/resources/golden/train_steps/model"
    if isinstance(cfg.get("target_modules"), list):       # a set in PEFT: its order varies run to run
        cfg["target_modules"] = sorted(cfg["target_modules"])
    with open(cfg_file, "w", encoding="utf-8") as f:
        f.write(json.dumps(cfg, indent=2, sort_keys=True))


# ----------------------------------------------------------------------------- training
def train(run, init, accum, wd, data, pad):
    pm = PeftModel.from_pretrained(load_base(), os.path.join(OUT, init), is_trainable=True)
    pm.train()
    params = [p for p in pm.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
    it = micro_batches(data, BATCH, pad)
    losses, step_targets = [], []
    for step in range(STEPS):
        mbs = [next(it) for _ in range(accum)]
        n = sum(targets(lab) for _, _, lab in mbs)       # target tokens of the whole step
        opt.zero_grad(set_to_none=True)
        total = torch.zeros((), dtype=torch.float32)
        for ids, mask, lab in mbs:
            logits = pm(input_ids=ids, attention_mask=mask).logits
            ce_sum = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), lab[:, 1:].reshape(-1),
                                     ignore_index=-100, reduction="sum")
            (ce_sum / n).backward()
            total = total + ce_sum.detach()
            # transformers' own causal-LM loss with num_items_in_batch = n is the same quantity
            with torch.no_grad():
                hf = pm(input_ids=ids, attention_mask=mask, labels=lab, num_items_in_batch=torch.tensor(n)).loss
            assert torch.allclose(hf, ce_sum.detach() / n, rtol=1e-6, atol=0), (hf.item(), (ce_sum / n).item())
        losses.append((total / n).item())
        step_targets.append([targets(lab) for _, _, lab in mbs])
        opt.step()
    save(pm, os.path.join(OUT, run))
    return losses, step_targets


def main():
    os.makedirs(OUT, exist_ok=True)
    make_model()
    tok = tokenizers.Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))
    eos = tok.token_to_id("</s>")
    with open(DATA, "w", encoding="utf-8") as f:
        for r in RECORDS:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    data = tokenize(tok, eos)
    make_init("init_lora", False, 10)
    make_init("init_dora", True, 20)
    manifest = {
        "generator": "tools/golden/train_steps_reference.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
                     "tokenizers": tokenizers.__version__, "safetensors": safetensors.__version__},
        "steps": STEPS, "batch_size": BATCH, "lr": LR, "max_seq_len": MAX_SEQ_LEN,
        "optimizer": {"type": "torch.optim.AdamW", "betas": [0.9, 0.999], "eps": 1e-8},
        "data": [{"ids": ids, "labels": labels} for ids, labels in data],
        "runs": {},
    }
    for run, s in RUNS.items():
        losses, tg = train(run, s["init"], s["accum"], s["wd"], data, eos)
        manifest["runs"][run] = {"init": s["init"], "grad_accum": s["accum"], "weight_decay": s["wd"],
                                 "losses": losses, "targets": tg}
        print(run, losses)
    with open(os.path.join(OUT, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
