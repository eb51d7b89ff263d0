#!/usr/bin/env python3
"""Golden token ids and loss masks for finetune4j's instruction-tuning data path
(finetune4j.data formats -> finetune4j.text.ConversationRenderer -> finetune4j.batch.ExampleTokenizer).

What it makes (under core/src/test/resources/finetune4j/batch/sft/)
--------------------------------------------------------------------
1. tiny/tokenizer.json, tiny/tokenizer_config.json
   A tiny byte-level BPE tokenizer (HF `tokenizers` trainer, 700 tokens, the special tokens of the
   ChatML, Llama-3, Zephyr and Llama-2 templates, BOS added by the post-processor), so that the Java
   tests run from the repository alone.
2. handmade.jsonl
   Small records written here, one of every layout: Alpaca (with and without input), Dolly, ShareGPT
   (from/value and role/content, function_call/observation with a tools string), OpenAI messages
   with tool_calls and tools, an assistant turn of weight 0, OpenAssistant (nested tree, and flat
   rows), TRL prompt/completion (strings and message lists), text, non-ASCII text; plus bad records.
3. handmade_golden.json
   For the tiny tokenizer, every named template and every --train-on mode: each record's input_ids
   and the token ranges whose labels are not -100 (or the expected error).
4. shared_golden.json
   The same, for the first records of every sample under ../shared/data/datasets with real
   tokenizers from ../shared/data/tokenizers and ../shared/data/models: input ids as a sha256 (plus
   their count and first ids) and the trained token ranges. Only these derived numbers are
   committed, never the shared data.

Reference logic (written independently of the Java code)
--------------------------------------------------------
* Formats -> lists of message dicts: see to_examples() below (the rules of SPECS.md 3f and of the
  Java package docs: Alpaca user turn = instruction + "\\n\\n" + input, ShareGPT role names, tool
  calls with object arguments, tools wrapped as {"type": "function", "function": ...}, OpenAssistant
  best-ranked thread, trailing non-assistant turns dropped).
* Rendering: transformers' own render_jinja_template (the function apply_chat_template calls), with
  the tokenizer's special_tokens_map as template variables; strftime_now is pinned to FIXED_NOW.
* Masks, per --train-on mode:
  - all: every token.
  - text: every token (+ EOS); prompt/completion strings: TRL - ids of prompt+completion with special
    tokens, EOS appended, the first len(tokenize(prompt)) labels masked.
  - templates with {% generation %}: transformers' return_assistant_tokens_mask (the real
    apply_chat_template output is used for --train-on assistant; for last-assistant and weights the
    same rule is applied to the last/kept generation span: tokens char_to_token(start) ..
    char_to_token(end - 1)).
  - other templates, the prefix method: span of assistant message i = render(messages[:i+1])
    [len(render(messages[:i], add_generation_prompt=True)):] with trailing " \\t\\n\\r\\f\\v" removed,
    refused when a prefix does not start the full rendering; completion = from the end of
    render(messages[:k], add_generation_prompt=True) to the end. Tokens: the HF offsets of
    tokenizer(text, return_offsets_mapping=True, add_special_tokens=False, or True for alpaca);
    a token is trained when it lies between the first and last token (with non-empty offsets) that
    overlap a span.
  - a template that does not write a tool call's or tool's name, or that raises, is an error.

How to rerun
------------
    /work/venv/bin/python tools/golden/sft_masks.py        # from the repository root
Environment: a venv with transformers 5.x, tokenizers 0.2x and jinja2 3.1 (python -m venv v &&
v/bin/pip install transformers tokenizers jinja2). Reads ../shared/data when present (the shared
golden is skipped otherwise). Deterministic: rerunning rewrites identical files.
"""

import hashlib
import json
import os
import re
import sys
from datetime import datetime

import transformers
from transformers import PreTrainedTokenizerFast
from transformers.utils import chat_template_utils
from transformers.utils.chat_template_utils import render_jinja_template

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(REPO, "core", "src", "test", "resources", "finetune4j", "batch", "sft")
TEMPLATES = os.path.join(REPO, "core", "src", "main", "resources", "chat-templates", "builtin")
SHARED = os.path.normpath(os.path.join(REPO, "..", "shared", "data"))

FIXED_NOW = datetime(2025, 3, 9, 7, 4, 5)
MODES = ["all", "completion", "assistant", "last-assistant"]
NAMED = {"alpaca": "alpaca", "chatml": "chatml", "chatml-tools": "chatml-tools", "chatml-generation": "chatml-generation",
         "llama2": "llama2-chat", "llama3": "llama3", "llama3.2": "llama3.2", "mistral": "mistral-inst", "zephyr": "zephyr"}
WS = " \t\n\r\f\v"


class _FixedDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED_NOW


chat_template_utils.datetime = _FixedDatetime      # strftime_now reads the module's datetime


class Bad(Exception):
    """A record or example the Java side must report as bad."""


# ----------------------------------------------------------------------------------------- records

def records(path):
    """(key, obj-or-None) of every record; None for a line that is not a JSON object. The key is the
    record's line ("7"), or line and array index ("1[16]") for the records of a JSON array (as the
    Java sources name them)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.startswith("\ufeff"):
        text = text[1:]
    stripped = text.lstrip()
    if path.endswith(".json") and stripped.startswith("["):
        dec = json.JSONDecoder()
        pos = text.index("[") + 1
        index = 0
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if text[pos] == "]":
                return
            obj, end = dec.raw_decode(text, pos)
            yield "%d[%d]" % (text.count("\n", 0, pos) + 1, index), obj if isinstance(obj, dict) else None
            index += 1
            pos = end
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            yield str(n), None
            continue
        yield str(n), obj if isinstance(obj, dict) else None


SHAREGPT_ROLES = {"human": "user", "user": "user", "prompter": "user", "gpt": "assistant", "assistant": "assistant",
                  "model": "assistant", "bot": "assistant", "chatgpt": "assistant", "system": "system",
                  "function_call": "assistant", "observation": "tool", "tool": "tool", "function": "tool"}


def arguments(a):
    if a is None:
        return {}
    if isinstance(a, str):
        try:
            v = json.loads(a)
            if isinstance(v, dict):
                return v
        except json.JSONDecodeError:
            pass
    return a


def tools_of(rec):
    key = "tools" if "tools" in rec else "functions" if "functions" in rec else None
    if key is None or rec[key] is None:
        return None
    v = rec[key]
    if isinstance(v, str):
        if not v.strip():
            return None
        v = json.loads(v)
    if not v:
        return None
    return [{"type": "function", "function": t} if "type" not in t and "name" in t else t for t in v]


def openai_messages(msgs):
    out = []
    for m in msgs:
        m = dict(m)
        if m["role"] == "function":
            m["role"] = "tool"
        if m["role"] not in ("system", "developer", "user", "assistant", "tool"):
            raise Bad("wrong role")
        if m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                c = dict(c)
                fn = dict(c["function"])
                fn["arguments"] = arguments(fn.get("arguments"))
                c["function"] = fn
                calls.append(c)
            m["tool_calls"] = calls
        content = m.get("content")
        if m["role"] == "assistant" and (content is None or (isinstance(content, str) and not content.strip())) and not m.get("tool_calls"):
            raise Bad("empty assistant turn")
        out.append(m)
    return out


def conversation(messages, tools, prompt_messages=-1, kind="conv"):
    if prompt_messages < 0:
        while messages and messages[-1]["role"] != "assistant":
            messages = messages[:-1]
    if not any(m["role"] == "assistant" for m in messages):
        raise Bad("no assistant turn")
    return {"kind": kind, "messages": messages, "tools": tools, "prompt_messages": prompt_messages}


def oasst_threads(root):
    """The best-ranked root-to-leaf thread (rank 0 first, unranked last, file order on ties), deleted messages dropped."""
    def keep(n):
        return not n.get("deleted", False)

    def check(n, parent):
        if n.get("role") not in ("prompter", "assistant"):
            raise Bad("wrong role")
        if parent is not None and n["role"] == parent["role"]:
            raise Bad("roles must alternate")
        if n["role"] == "assistant" and not n.get("text", "").strip():
            raise Bad("empty assistant turn")
        for r in n.get("replies") or []:
            check(r, n)

    check(root, None)
    if root["role"] != "prompter" or not keep(root):
        return []
    thread, cur = [], root
    while cur is not None:
        thread.append(cur)
        kids = [r for r in (cur.get("replies") or []) if keep(r)]
        cur = min(kids, key=lambda r: (r.get("rank") is None, r.get("rank") if r.get("rank") is not None else 0)) if kids else None
    while thread and thread[-1]["role"] != "assistant":
        thread.pop()
    if not thread:
        return []
    return [conversation([{"role": "user" if n["role"] == "prompter" else "assistant", "content": n["text"]} for n in thread], None)]


def to_examples(path):
    """[(line, example-or-Bad)] in the order the Java loader emits them (flat OpenAssistant rows last)."""
    out, flat = [], []
    for line, rec in records(path):
        if rec is None:
            out.append((line, Bad("invalid JSON")))
            continue
        try:
            if "messages" in rec:
                ex = [conversation(openai_messages(rec["messages"]), tools_of(rec))]
            elif "conversations" in rec:
                msgs = []
                if isinstance(rec.get("system"), str) and rec["system"]:
                    msgs.append({"role": "system", "content": rec["system"]})
                for t in rec["conversations"]:
                    frm = t.get("from", t.get("role"))
                    val = t.get("value", t.get("content"))
                    role = SHAREGPT_ROLES.get(str(frm).lower())
                    if role is None:
                        raise Bad("wrong role")
                    if str(frm).lower() == "function_call":
                        call = json.loads(val)
                        msgs.append({"role": "assistant", "content": "", "tool_calls": [
                            {"type": "function", "function": {"name": call["name"], "arguments": arguments(call.get("arguments"))}}]})
                    else:
                        if role == "assistant" and not val.strip():
                            raise Bad("empty assistant turn")
                        msgs.append({"role": role, "content": val})
                ex = [conversation(msgs, tools_of(rec))]
            elif isinstance(rec.get("prompt"), dict):
                ex = oasst_threads(rec["prompt"])
            elif "message_id" in rec and "replies" in rec:
                ex = oasst_threads(rec)
            elif "message_id" in rec:
                flat.append((line, rec))
                continue
            elif "instruction" in rec:
                answer_key, input_key = ("output", "input") if "output" in rec else ("response", "context")
                if answer_key not in rec:
                    raise Bad("missing field")
                instr, inp, ans = rec["instruction"], rec.get(input_key) or "", rec[answer_key]
                if not ans.strip():
                    raise Bad("empty assistant turn")
                msgs = []
                if isinstance(rec.get("system"), str) and rec["system"]:
                    msgs.append({"role": "system", "content": rec["system"]})
                msgs.append({"role": "user", "content": instr + "\n\n" + inp if inp else instr, "instruction": instr, "input": inp})
                msgs.append({"role": "assistant", "content": ans})
                ex = [conversation(msgs, None)]
            elif "prompt" in rec or "completion" in rec:
                if isinstance(rec.get("prompt"), list) or isinstance(rec.get("completion"), list):
                    p, c = openai_messages(rec["prompt"]), openai_messages(rec["completion"])
                    ex = [conversation(p + c, tools_of(rec), len(p))]
                else:
                    if not isinstance(rec.get("completion"), str) or not isinstance(rec.get("prompt"), str):
                        raise Bad("missing field")
                    if rec["completion"] == "":
                        raise Bad("empty completion")
                    ex = [{"kind": "pc", "prompt": rec["prompt"], "completion": rec["completion"]}]
            elif "text" in rec:
                if not isinstance(rec["text"], str) or not rec["text"]:
                    raise Bad("bad text")
                ex = [{"kind": "text", "text": rec["text"]}]
            else:
                raise Bad("unknown format")
        except Bad as b:
            out.append((line, b))
            continue
        except (KeyError, TypeError, json.JSONDecodeError) as e:
            out.append((line, Bad("malformed: " + repr(e))))
            continue
        out.extend((line, e) for e in ex)
    if flat:
        out.extend(flat_oasst(flat))
    return out


def flat_oasst(rows):
    """Flat message rows: assemble trees by parent_id; orphans and cycles are bad (reported at their line)."""
    by_id, out = {}, []
    for line, r in rows:
        if r["message_id"] in by_id:
            out.append((line, Bad("duplicate message_id")))
            continue
        by_id[r["message_id"]] = dict(r, replies=[], _line=line)
    for n in by_id.values():
        if n.get("parent_id") is not None:
            if n["parent_id"] in by_id:
                by_id[n["parent_id"]]["replies"].append(n)
            else:
                out.append((n["_line"], Bad("orphan")))
    reached = set()

    def mark(n):
        reached.add(n["message_id"])
        for c in n["replies"]:
            mark(c)

    roots = [n for n in by_id.values() if n.get("parent_id") is None]
    for r in roots:
        mark(r)
    seen_cycle = set()
    for n in by_id.values():
        if n["message_id"] in reached:
            continue
        chain, cur = [], n
        while cur is not None and cur["message_id"] not in [c["message_id"] for c in chain]:
            chain.append(cur)
            cur = by_id.get(cur.get("parent_id")) if cur.get("parent_id") is not None else None
        if cur is not None and cur["message_id"] not in seen_cycle:
            seen_cycle.update(c["message_id"] for c in chain[chain.index(cur):])
            out.append((cur["_line"], Bad("cycle")))
    for r in roots:
        try:
            out.extend((r["_line"], e) for e in oasst_threads(r))
        except Bad as b:
            out.append((r["_line"], b))
    return out


# ------------------------------------------------------------------------------------ tokenization

def load_tokenizer(path_dir, tokenizer_file=None):
    tf = tokenizer_file or os.path.join(path_dir, "tokenizer.json")
    cfg_path = os.path.join(path_dir, "tokenizer_config.json")
    cfg = json.load(open(cfg_path, encoding="utf-8")) if os.path.exists(cfg_path) else {}

    def tok(v):
        return v.get("content") if isinstance(v, dict) else v

    # special tokens of tokenizer_config.json that tokenizer.json lacks are not passed: transformers would add
    # them as new ids (torchtune-tiny-bpe names <|begin_of_sentence|>), finetune4j's Tokenizer reads tokenizer.json only
    vocab = PreTrainedTokenizerFast(tokenizer_file=tf).get_vocab()
    kwargs = {k: tok(cfg.get(k)) for k in ("bos_token", "eos_token", "unk_token", "pad_token") if tok(cfg.get(k)) in vocab}
    t = PreTrainedTokenizerFast(tokenizer_file=tf, **kwargs)
    t._tokenizer.no_truncation()
    t._tokenizer.no_padding()
    return t, cfg


def special_tokens(tok, cfg):
    m = {}
    for k in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
        v = cfg.get(k)
        v = v.get("content") if isinstance(v, dict) else v
        if v:
            m[k] = v
    if cfg.get("additional_special_tokens"):
        m["additional_special_tokens"] = cfg["additional_special_tokens"]
    return m


def render(source, specials, messages, tools, agp, spans=False):
    """transformers' rendering; any failure inside the template (raise_exception, a TypeError, an undefined value) is Bad."""
    try:
        texts, idx = render_jinja_template(conversations=[messages], tools=tools, chat_template=source,
                                           return_assistant_tokens_mask=spans, add_generation_prompt=agp, **specials)
    except Exception as e:
        raise Bad("template error: " + type(e).__name__ + ": " + str(e)) from None
    return (texts[0], idx[0]) if spans else texts[0]


def names_rendered(ex, text):
    for m in ex["messages"]:
        for c in m.get("tool_calls") or []:
            if c["function"]["name"] not in text:
                raise Bad("template does not write tool calls")
    for t in ex["tools"] or []:
        name = t.get("function", {}).get("name", t.get("name"))
        if name is not None and name not in text:
            raise Bad("template does not write tools")


def trimmed_end(s, start):
    end = len(s)
    while end > start and s[end - 1] in WS:
        end -= 1
    return end


def overlap_mask(offsets, spans):
    mask = [0] * len(offsets)
    for s, e in spans:
        hits = [i for i, (a, b) in enumerate(offsets) if b > a and b > s and a < e]
        if hits:
            for i in range(hits[0], hits[-1] + 1):
                mask[i] = 1
    return mask


def hf_rule(enc, gen_spans):
    """transformers' return_assistant_tokens_mask rule on given generation spans."""
    mask = [0] * len(enc["input_ids"])
    for s, e in gen_spans:
        start, end = enc.char_to_token(s), enc.char_to_token(e - 1)
        if start is None:
            break
        for t in range(start, end + 1 if end else len(mask)):
            mask[t] = 1
    return mask


def encode(tok, specials, source, add_special, ex, mode, eos_id):
    """(ids, mask) of one example, or raise Bad."""
    if ex["kind"] == "text":
        ids = tok(ex["text"], add_special_tokens=True)["input_ids"] + [eos_id]
        return ids, [1] * len(ids)
    if ex["kind"] == "pc":
        ids = tok(ex["prompt"] + ex["completion"], add_special_tokens=True)["input_ids"] + [eos_id]
        if mode == "all":
            return ids, [1] * len(ids)
        n = len(tok(ex["prompt"], add_special_tokens=True)["input_ids"])
        return ids, [0] * min(n, len(ids)) + [1] * max(0, len(ids) - n)
    msgs, tools = ex["messages"], ex["tools"]
    text = render(source, specials, msgs, tools, False)
    names_rendered(ex, text)
    enc = tok(text, add_special_tokens=add_special, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    if mode == "all":
        return ids, [1] * len(ids)

    def prefix(k):
        p = render(source, specials, msgs[:k], tools, True)
        if not text.startswith(p):
            raise Bad("not prefix-stable")
        return p

    if mode == "completion":
        k = ex["prompt_messages"]
        if k < 0:
            k = len(msgs)
            while k > 0 and msgs[k - 1]["role"] == "assistant":
                k -= 1
        p = prefix(k)
        end = trimmed_end(text, len(p))
        if end <= len(p):
            raise Bad("empty completion")
        mask = overlap_mask(offsets, [(len(p), end)])
    elif re.search(r"\{%-?\s*generation\s*-?%\}", source):
        gtext, gen = render(source, specials, msgs, tools, False, spans=True)
        assert gtext == text
        if not gen:
            raise Bad("no generation span")
        assistants = [i for i, m in enumerate(msgs) if m["role"] == "assistant"]
        weights_apply = len(gen) == len(assistants)
        kept = [sp for k, sp in enumerate(gen)
                if (mode == "assistant" or k == len(gen) - 1) and not (weights_apply and msgs[assistants[k]].get("weight") == 0)]
        if not kept:
            raise Bad("nothing trained")
        mask = hf_rule(enc, kept)
        if mode == "assistant" and len(kept) == len(gen):
            real = tok.apply_chat_template(msgs, tools=tools, chat_template=source, tokenize=True, return_dict=True,
                                           return_assistant_tokens_mask=True, **{k: v for k, v in specials.items()
                                                                                 if k not in tok.special_tokens_map})
            assert real["input_ids"] == ids and list(real["assistant_masks"]) == mask, "HF mask differs from its rule"
    else:
        assistants = [i for i, m in enumerate(msgs) if m["role"] == "assistant"]
        wanted = assistants if mode == "assistant" else assistants[-1:]
        spans = []
        for i in wanted:
            if msgs[i].get("weight") == 0:
                continue
            p = prefix(i)
            f = text if i == len(msgs) - 1 else render(source, specials, msgs[:i + 1], tools, False)
            if not f.startswith(p) or not text.startswith(f):
                raise Bad("not prefix-stable")
            end = trimmed_end(f, len(p))
            if end <= len(p):
                raise Bad("empty assistant turn")
            spans.append((len(p), end))
        if not spans:
            raise Bad("nothing trained")
        mask = overlap_mask(offsets, spans)
    if sum(mask[1:]) == 0:
        raise Bad("no trained token")
    return ids, mask


def ranges(mask):
    out, i = [], 0
    while i < len(mask):
        if mask[i]:
            j = i
            while j < len(mask) and mask[j]:
                j += 1
            out.append([i, j])
            i = j
        else:
            i += 1
    return out


def template_source(name):
    with open(os.path.join(TEMPLATES, NAMED[name] + ".jinja"), encoding="utf-8") as f:
        return f.read()


def cases(tok, cfg, template, path, modes, full_ids, limit=None):
    """Golden cases of one (tokenizer, template) over one records file."""
    specials = special_tokens(tok, cfg)
    if "eos_token" not in specials and tok.eos_token:
        specials["eos_token"] = tok.eos_token
    if template.startswith("@"):      # a model's own template from its tokenizer_config.json
        source, add_special = cfg["chat_template"], False
    else:
        source, add_special = template_source(template), template == "alpaca"
    eos_id = tok.convert_tokens_to_ids(specials.get("eos_token")) if specials.get("eos_token") else tok.eos_token_id
    out, seen = [], 0
    for line, ex in to_examples(path):
        if limit is not None and seen >= limit:
            break
        seen += 1
        entry = {"record": line}
        if isinstance(ex, Bad):
            entry["error"] = str(ex)
            out.append(entry)
            continue
        ids_done = None
        for mode in modes:
            try:
                ids, mask = encode(tok, specials, source, add_special, ex, mode, eos_id)
            except Bad as b:
                entry.setdefault("errors", {})[mode] = str(b)
                continue
            if ids_done is None:
                ids_done = ids
                if full_ids:
                    entry["ids"] = ids
                else:
                    entry["n"] = len(ids)
                    entry["sha256"] = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()
                    entry["head"] = ids[:8]
            assert ids == ids_done
            entry.setdefault("trained", {})[mode] = ranges(mask)
        out.append(entry)
    return out


# ------------------------------------------------------------------------------------- handmade data

def handmade_records():
    tools = [{"name": "get_weather", "description": "Weather of a city", "parameters": {"type": "object",
             "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
    recs = [
        {"instruction": "Give three tips for staying healthy.", "input": "", "output": "Eat well, sleep, move."},
        {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"},
        {"instruction": "Summarize.", "context": "The cat sat on the mat. It was happy.", "response": "A happy cat sat.",
         "category": "summarization"},
        {"conversations": [{"from": "system", "value": "You are terse."}, {"from": "human", "value": "Hi there!"},
                           {"from": "gpt", "value": "Hello."}, {"from": "human", "value": "What is 2+2?"},
                           {"from": "gpt", "value": " 4\n"}]},
        {"conversations": [{"role": "user", "content": "Caf\u00e9 or th\u00e9? \u2615"}, {"role": "assistant", "content": "Th\u00e9, s'il vous pla\u00eet \U0001F375"},
                           {"role": "user", "content": "thanks"}]},
        {"messages": [{"role": "user", "content": "Weather in Paris?"},
                      {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
                       "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
                      {"role": "tool", "tool_call_id": "c1", "content": "{\"temp\": 21}"},
                      {"role": "assistant", "content": "It is 21 degrees in Paris."}],
         "tools": [{"type": "function", "function": tools[0]}]},
        {"conversations": [{"from": "human", "value": "Weather in Rome?"},
                           {"from": "function_call", "value": "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}"},
                           {"from": "observation", "value": "{\"temp\": 25}"},
                           {"from": "gpt", "value": "25 degrees in Rome."}],
         "tools": json.dumps(tools)},
        {"messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "One?"},
                      {"role": "assistant", "content": "Uno.", "weight": 0}, {"role": "user", "content": "Two?"},
                      {"role": "assistant", "content": "Dos."}]},
        {"message_tree_id": "t1", "tree_state": "ready_for_export", "prompt": {
            "message_id": "p1", "parent_id": None, "role": "prompter", "text": "Name a color.", "lang": "en", "replies": [
                {"message_id": "a2", "parent_id": "p1", "role": "assistant", "text": "Blue is calm.", "rank": 1, "replies": []},
                {"message_id": "a1", "parent_id": "p1", "role": "assistant", "text": "Red.", "rank": 0, "replies": [
                    {"message_id": "p2", "parent_id": "a1", "role": "prompter", "text": "Why?", "replies": []}]},
                {"message_id": "a3", "parent_id": "p1", "role": "assistant", "text": "Green (deleted).", "rank": 2,
                 "deleted": True, "replies": []}]}},
        {"prompt": "Q: What is the capital of France?\nA:", "completion": " Paris."},
        {"prompt": [{"role": "user", "content": "Say yes."}], "completion": [{"role": "assistant", "content": "Yes."}]},
        {"text": "Lily had a red ball. She played in the park."},
        {"messages": [{"role": "user", "content": "\u65e5\u672c\u8a9e\u3067\u6328\u62f6\u3057\u3066\u3002"},
                      {"role": "assistant", "content": "\u3053\u3093\u306b\u3061\u306f\uff01"}]},
        # bad records
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "bot", "content": "Hello"}]},
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "  "}]},
        {"instruction": "No answer here."},
        {"conversations": [{"from": "human", "value": "Only a question"}]},
    ]
    flat = [
        {"message_id": "f1", "parent_id": None, "role": "prompter", "text": "Flat root question?", "lang": "en"},
        {"message_id": "f2", "parent_id": "f1", "role": "assistant", "text": "Flat answer.", "rank": 0, "lang": "en"},
        {"message_id": "f3", "parent_id": "missing", "role": "assistant", "text": "Orphan.", "rank": 0},
        {"message_id": "c1x", "parent_id": "c2x", "role": "prompter", "text": "Cycle a"},
        {"message_id": "c2x", "parent_id": "c1x", "role": "assistant", "text": "Cycle b"},
    ]
    return recs, flat


def write_handmade():
    recs, flat = handmade_records()
    lines = [json.dumps(r, ensure_ascii=False) for r in recs]
    lines.insert(13, "{\"messages\": [broken json")
    lines.extend(json.dumps(r, ensure_ascii=False) for r in flat)
    path = os.path.join(OUT, "handmade.jsonl")
    write_text(path, "\n".join(lines) + "\n")
    return path


def tiny_corpus():
    recs, flat = handmade_records()
    parts = [json.dumps(r, ensure_ascii=False) for r in recs + flat]
    parts.append("Below is an instruction that describes a task. Write a response that appropriately completes the request.")
    parts.append("### Instruction:\n### Input:\n### Response: system user assistant tool <tool_call> </tool_call> <tools> </tools>")
    parts.append("[INST] [/INST] <<SYS>> <</SYS>> Cutting Knowledge Date: December 2023 Today Date: 09 Mar 2025")
    return "\n".join(parts * 3)


def make_tiny_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    d = os.path.join(OUT, "tiny")
    os.makedirs(d, exist_ok=True)
    specials = ["<s>", "</s>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|start_header_id|>",
                "<|end_header_id|>", "<|eot_id|>", "<|user|>", "<|assistant|>", "<|system|>"]
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    t.train_from_iterator([tiny_corpus()], trainer=trainer)
    t.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", t.token_to_id("<s>"))])
    write_text(os.path.join(d, "tokenizer.json"), t.to_str(pretty=True) + "\n")
    cfg = {"bos_token": "<s>", "eos_token": "</s>", "model_max_length": 512, "tokenizer_class": "PreTrainedTokenizerFast",
           "clean_up_tokenization_spaces": False}
    write_text(os.path.join(d, "tokenizer_config.json"), json.dumps(cfg, indent=2) + "\n")
    return d


# --------------------------------------------------------------------------------------------- main

def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def meta():
    import tokenizers, jinja2
    return {"generator": "tools/golden/sft_masks.py", "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "jinja2": jinja2.__version__, "strftime_now": FIXED_NOW.isoformat()}


SHARED_FILES = ["alpaca/alpaca_tiny.json", "alpaca/alpaca_small.json", "oasst/en_100_tree.jsonl", "oasst/en_100_message.jsonl",
                "sharegpt/sharegpt_zh_1K_format.jsonl", "sharegpt/dummy_conversation.json",
                "sharegpt/glaive_toolcall_en_demo.json", "openai_messages/toy_chat_fine_tuning.jsonl"]
# (tokenizer dir under ../shared/data, tokenizer file or None, template, modes, files)
SHARED_COMBOS = [
    ("tokenizers/smollm-135m", None, "chatml-tools", MODES, SHARED_FILES),
    ("tokenizers/smollm-135m", None, "chatml-generation", ["assistant", "last-assistant"], [f for f in SHARED_FILES if "glaive" not in f]),
    ("tokenizers/llama2-converted", None, "llama2", ["assistant"], SHARED_FILES),
    ("tokenizers/mistral", None, "mistral", ["assistant"], SHARED_FILES),
    ("tokenizers/mistral", None, "alpaca", ["assistant"], ["alpaca/alpaca_tiny.json", "alpaca/alpaca_small.json"]),
    ("models/stories260K/hf", None, "alpaca", ["assistant", "all"], ["alpaca/alpaca_tiny.json"]),
    ("tokenizers/gpt2", None, "zephyr", ["assistant"], SHARED_FILES),
    ("tokenizers/torchtune-tiny-bpe", None, "llama3.2", ["assistant"], SHARED_FILES),
    ("tokenizers/torchtune-tiny-bpe", None, "llama3", ["assistant"], SHARED_FILES),
]
SHARED_LIMIT = 6


def main():
    os.makedirs(OUT, exist_ok=True)
    tiny = make_tiny_tokenizer()
    handmade = write_handmade()
    tok, cfg = load_tokenizer(tiny)
    golden = {"meta": meta(), "tokenizer": "tiny", "records": "handmade.jsonl", "templates": {}}
    for name in NAMED:
        golden["templates"][name] = cases(tok, cfg, name, handmade, MODES, True)
    write_text(os.path.join(OUT, "handmade_golden.json"), json.dumps(golden, ensure_ascii=False, indent=0) + "\n")

    if not os.path.isdir(SHARED):
        print("../shared/data is absent: shared_golden.json not rewritten", file=sys.stderr)
        return
    shared = {"meta": meta(), "limit": SHARED_LIMIT, "combos": []}
    qwen3 = os.path.join(SHARED, "tokenizers", "qwen3-chat-template", "tokenizer_config.json")
    for tdir, tfile, template, modes, files in SHARED_COMBOS:
        tok, cfg = load_tokenizer(os.path.join(SHARED, tdir), tfile)
        for f in files:
            shared["combos"].append({"tokenizer": tdir, "template": template, "file": f,
                                     "cases": cases(tok, cfg, template, os.path.join(SHARED, "datasets", f), modes, False, SHARED_LIMIT)})
    # the Qwen3 template (not prefix-stable for multi-turn chats) with the smollm tokenizer
    tok, cfg = load_tokenizer(os.path.join(SHARED, "tokenizers", "smollm-135m"))
    qcfg = json.load(open(qwen3, encoding="utf-8"))
    cfg = dict(cfg, chat_template=qcfg["chat_template"])
    for f in ["openai_messages/toy_chat_fine_tuning.jsonl", "sharegpt/dummy_conversation.json"]:
        shared["combos"].append({"tokenizer": "tokenizers/smollm-135m", "template": "@tokenizers/qwen3-chat-template", "file": f,
                                 "cases": cases(tok, cfg, "@qwen3", os.path.join(SHARED, "datasets", f), ["assistant", "last-assistant"],
                                                False, SHARED_LIMIT)})
    write_text(os.path.join(OUT, "shared_golden.json"), json.dumps(shared, ensure_ascii=False, indent=0) + "\n")


if __name__ == "__main__":
    main()
