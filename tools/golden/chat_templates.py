#!/usr/bin/env python3
"""Golden outputs for finetune4j's chat templates (package finetune4j.text).

What it makes
-------------
1. core/src/main/resources/chat-templates/builtin/*.jinja (main resources: they are the named
   templates of --template, see finetune4j.text.ChatTemplates; the alpaca and chatml-tools
   templates there are not written by this script)
   The chat templates a few common models ship (ChatML, Llama-3 Instruct, Zephyr/TinyLlama-Chat,
   Mistral-Instruct [INST], Llama-2-chat, and a ChatML variant with {% generation %} markers).
   The sources are embedded below (BUILTIN_TEMPLATES) and written out so that the Java test reads
   exactly what this script rendered.
2. core/src/test/resources/chat-templates/goldens.json
   For every template (the built-ins above plus every tokenizer_config.json with a chat_template
   under ../shared/data/tokenizers/), a set of conversations rendered the way Hugging Face
   transformers renders them: {template_id, case, messages, tools, add_generation_prompt, kwargs,
   expected | expected_error, generation_spans}. Templates from ../shared are NOT copied here (the
   shared material may not enter the repository): the Java test reads them from ../shared; only
   their rendered outputs and the special-token map transformers would pass are recorded.
3. core/src/test/resources/chat-templates/jinja-semantics.json
   Small probe templates (written here, so committed with their source) that pin down the Python
   Jinja2 behaviour Jinjava differs from: Python str methods, slicing, None vs undefined, str() of
   values, tojson, trim_blocks/lstrip_blocks, loop variables, sandbox errors.

The rendering environment reproduces transformers' utils/chat_template_utils.py
(_compile_jinja_template / render_jinja_template, transformers 4.4x-4.5x):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[AssistantTracker, jinja2.ext.loopcontrols]), filter tojson(x, ensure_ascii=False,
indent=None, separators=None, sort_keys=False) = json.dumps, globals raise_exception (raises
TemplateError) and strftime_now (here fixed at FIXED_NOW for determinism), render kwargs
messages, tools, documents, add_generation_prompt, then the tokenizer's special_tokens_map and
extra kwargs (apply_chat_template: template_kwargs = {**special_tokens_map, **kwargs}).

How to rerun
------------
    python3 tools/golden/chat_templates.py            # from the repository root
Needs only Python 3 with jinja2 >= 3.1 (no transformers). Reads ../shared/data/tokenizers when
present (templates missing there are skipped with a note on stderr). Output is deterministic.
"""

import json
import os
import sys
from contextlib import contextmanager
from datetime import datetime

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(REPO, "core", "src", "test", "resources", "chat-templates")
BUILTIN_DIR = os.path.join(REPO, "core", "src", "main", "resources", "chat-templates", "builtin")
SHARED_TOKENIZERS = os.path.join(REPO, "..", "shared", "data", "tokenizers")

# strftime_now is datetime.now().strftime in transformers; fixed here so goldens are stable.
# The Java test passes the same instant through a fixed Clock.
FIXED_NOW = datetime(2025, 3, 9, 7, 4, 5)


# ---------------------------------------------------------------------------------------------
# The transformers rendering environment
# ---------------------------------------------------------------------------------------------

class AssistantTracker(Extension):
    """transformers' {% generation %} extension: records (start, end) of assistant text."""
    tags = {"generation"}

    def __init__(self, environment):
        super().__init__(environment)
        environment.extend(activate_tracker=self.activate_tracker)
        self._rendered_blocks = None
        self._generation_indices = None

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    @jinja2.pass_eval_context
    def _generation_support(self, context, caller):
        rv = caller()
        if self.is_active():
            start_index = len("".join(self._rendered_blocks))
            end_index = start_index + len(rv)
            self._generation_indices.append((start_index, end_index))
        return rv

    def is_active(self):
        return self._rendered_blocks is not None or self._generation_indices is not None

    @contextmanager
    def activate_tracker(self, rendered_blocks, generation_indices):
        try:
            if self.is_active():
                raise ValueError("AssistantTracker should not be reused before closed")
            self._rendered_blocks = rendered_blocks
            self._generation_indices = generation_indices
            yield
        finally:
            self._rendered_blocks = None
            self._generation_indices = None


def compile_template(source):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source)


def render(compiled, messages, tools=None, documents=None, add_generation_prompt=False, **kwargs):
    """Returns (text, generation_spans) like render_jinja_template with return_assistant_tokens_mask."""
    blocks, spans = [], []
    with compiled.environment.activate_tracker(blocks, spans):
        for block in compiled.generate(messages=messages, tools=tools, documents=documents,
                                       add_generation_prompt=add_generation_prompt, **kwargs):
            blocks.append(block)
        text = "".join(blocks)
    return text, [list(s) for s in spans]


def outcome(fn):
    """Runs fn; returns {"expected": ..} or {"expected_error": .., "error_kind": ..}."""
    try:
        return fn()
    except jinja2.exceptions.TemplateSyntaxError as e:
        return {"expected_error": str(e), "error_kind": "syntax"}
    except jinja2.exceptions.SecurityError as e:
        return {"expected_error": str(e), "error_kind": "security"}
    except jinja2.exceptions.TemplateError as e:
        # raise_exception(...) and UndefinedError land here; UndefinedError is a subclass
        kind = "undefined" if isinstance(e, jinja2.exceptions.UndefinedError) else "raise_exception"
        return {"expected_error": str(e), "error_kind": kind}
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError, ZeroDivisionError,
            AssertionError) as e:
        return {"expected_error": "%s: %s" % (type(e).__name__, e), "error_kind": "python"}


# ---------------------------------------------------------------------------------------------
# Special tokens the way transformers passes them (PreTrainedTokenizerBase.special_tokens_map)
# ---------------------------------------------------------------------------------------------

SPECIAL_TOKENS_ATTRIBUTES = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                             "cls_token", "mask_token", "additional_special_tokens"]


def token_str(v):
    if isinstance(v, dict):
        return v.get("content")
    return v


def load_tokenizer_dir(d):
    """Returns (chat_template: str | dict | None, special_tokens_map) as transformers 4.4x loads them.

    chat_template.jinja (and additional_chat_templates/*.jinja) take priority over the config key;
    special_tokens_map.json overrides the config's tokens only in the legacy layout (a config with no
    added_tokens_decoder), otherwise it only fills tokens the config does not name.
    """
    with open(os.path.join(d, "tokenizer_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    templates = {}
    jf = os.path.join(d, "chat_template.jinja")
    if os.path.isfile(jf):
        with open(jf, encoding="utf-8") as f:
            templates["default"] = f.read()
    extra_dir = os.path.join(d, "additional_chat_templates")
    if os.path.isdir(extra_dir):
        for name in sorted(os.listdir(extra_dir)):
            if name.endswith(".jinja"):
                with open(os.path.join(extra_dir, name), encoding="utf-8") as f:
                    templates[name[:-len(".jinja")]] = f.read()
    if len(templates) == 1 and "default" in templates:
        cfg["chat_template"] = templates["default"]
    elif templates:
        cfg["chat_template"] = templates
    ct = cfg.get("chat_template")
    if isinstance(ct, list):
        ct = {t["name"]: t["template"] for t in ct}

    stm_path = os.path.join(d, "special_tokens_map.json")
    if os.path.isfile(stm_path):
        with open(stm_path, encoding="utf-8") as f:
            stm = json.load(f)
        legacy = "added_tokens_decoder" not in cfg
        for k, v in stm.items():
            if legacy or k not in cfg:
                cfg[k] = v
    stmap = {}
    for attr in SPECIAL_TOKENS_ATTRIBUTES:
        v = cfg.get(attr)
        if attr == "additional_special_tokens":
            v = [token_str(t) for t in (v or [])]
        else:
            v = token_str(v)
        if v:
            stmap[attr] = v
    return ct, stmap


# ---------------------------------------------------------------------------------------------
# Built-in templates (exact strings as the models ship them in tokenizer_config.json)
# ---------------------------------------------------------------------------------------------

BUILTIN_TEMPLATES = {
    # ChatML as in OpenHermes / Qwen1.5 / transformers' ChatML examples
    "chatml": (
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
        "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"),
    # meta-llama/Meta-Llama-3-8B-Instruct
    "llama3": (
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
        "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
        "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
        "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"),
    # HuggingFaceH4/zephyr-7b-beta, TinyLlama/TinyLlama-1.1B-Chat-v1.0
    "zephyr": (
        "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n"
        "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
        "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n"
        "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"),
    # mistralai/Mistral-7B-Instruct-v0.1 / v0.2
    "mistral-inst": (
        "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
        "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"),
    # meta-llama/Llama-2-7b-chat-hf (note the backslash-n escapes inside the Jinja string literals)
    "llama2-chat": (
        "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}"
        "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        "{% if loop.index0 == 0 and system_message != false %}"
        "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
        "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
        "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
        "{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"),
    # Llama 3.1/3.2-Instruct (tool calling, strftime_now date, tojson(indent=4)). Text as copied in
    # huggingface/search-and-learn, which drops the leading "{{- bos_token }}" line of Meta's
    # tokenizer_config.json; restored here.
    "llama3.2": "{{- bos_token }}\n" + r"""{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
""",
    # ChatML with transformers' {% generation %} markers around the assistant's text (TRL assistant_only_loss)
    "chatml-generation": (
        "{%- for message in messages %}\n"
        "    {{- '<|im_start|>' + message['role'] + '\\n' }}\n"
        "    {%- if message['role'] == 'assistant' %}\n"
        "        {%- generation %}\n"
        "            {{- message['content'] + '<|im_end|>' }}\n"
        "        {%- endgeneration %}\n"
        "        {{- '\\n' }}\n"
        "    {%- else %}\n"
        "        {{- message['content'] + '<|im_end|>\\n' }}\n"
        "    {%- endif %}\n"
        "{%- endfor %}\n"
        "{%- if add_generation_prompt %}\n"
        "    {{- '<|im_start|>assistant\\n' }}\n"
        "{%- endif %}\n"),
}

# What each model's tokenizer passes (its special_tokens_map)
BUILTIN_SPECIAL_TOKENS = {
    "chatml": {"bos_token": "<s>", "eos_token": "<|im_end|>", "unk_token": "<unk>"},
    "llama3": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "zephyr": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "</s>"},
    "mistral-inst": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    "llama2-chat": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    "chatml-generation": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "llama3.2": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
}


# ---------------------------------------------------------------------------------------------
# Conversations
# ---------------------------------------------------------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}

CONVERSATIONS = {
    "single-user": [
        {"role": "user", "content": "Hello, how are you?"},
    ],
    "system-multi-turn": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": "2 + 2 = 4."},
        {"role": "user", "content": "And times 3?"},
    ],
    "multi-turn": [
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": "2 + 2 = 4."},
        {"role": "user", "content": "And times 3?"},
    ],
    "assistant-last": [
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
    ],
    "unicode": [
        {"role": "user", "content": "Ça va? 你好 👋🏽 — naïve café, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"},
        {"role": "assistant", "content": "Très bien! 🎉 Ünïcödé ✓ \"quoted\" 'single' \\backslash"},
    ],
    "whitespace": [
        {"role": "user", "content": "  leading and trailing spaces  \n"},
        {"role": "assistant", "content": "\n\tanswer with tabs and newlines\t\n\n"},
        {"role": "user", "content": "\u00a0nbsp\u00a0 \u3000ideographic\u3000 \u2003em\u2003"},
    ],
    "empty-content": [
        {"role": "user", "content": ""},
        {"role": "assistant", "content": ""},
    ],
    "template-syntax-in-content": [
        {"role": "user", "content": "{{ 7*7 }} {% if true %}x{% endif %} {# c #} <|im_end|>"},
    ],
    "false-string": [
        {"role": "user", "content": "false"},
        {"role": "assistant", "content": "False"},
    ],
    "tools": [
        {"role": "system", "content": "You can check the weather."},
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": "",
         "tool_calls": [{"type": "function", "function": {"name": "get_weather",
                                                           "arguments": {"city": "Paris", "unit": "celsius"}}}]},
        {"role": "tool", "name": "get_weather", "content": "{\"temperature\": 22, \"sky\": \"clear\"}"},
        {"role": "assistant", "content": "It is 22 °C and clear in Paris."},
    ],
    "tools-string-arguments": [
        {"role": "user", "content": "Weather in Oslo and Rome?"},
        {"role": "assistant", "content": "Let me check.",
         "tool_calls": [
             {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}},
             {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]},
        {"role": "tool", "content": "-3 °C, snow"},
        {"role": "tool", "content": "18 °C, sunny"},
    ],
    "tool-call-null-content": [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
    ],
    "reasoning-inline": [
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": "<think>\nSimple arithmetic.\n</think>\n\n2 + 2 = 4."},
    ],
    "reasoning-history": [
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": "<think>\nSimple arithmetic.\n</think>\n\n4."},
        {"role": "user", "content": "And 3 + 3?"},
        {"role": "assistant", "content": "6.", "reasoning_content": "Also simple."},
    ],
    "system-only": [
        {"role": "system", "content": "Be terse."},
    ],
    "user-user": [
        {"role": "user", "content": "One."},
        {"role": "user", "content": "Two."},
    ],
    "content-parts": [
        {"role": "user", "content": [{"type": "text", "text": "Describe this."}]},
    ],
}

# (case name, conversation, add_generation_prompt, extra kwargs, with tools)
CASES = [
    ("single-user+agp", "single-user", True, {}, False),
    ("single-user", "single-user", False, {}, False),
    ("system-multi-turn+agp", "system-multi-turn", True, {}, False),
    ("system-multi-turn", "system-multi-turn", False, {}, False),
    ("multi-turn+agp", "multi-turn", True, {}, False),
    ("assistant-last", "assistant-last", False, {}, False),
    ("assistant-last+agp", "assistant-last", True, {}, False),
    ("unicode", "unicode", False, {}, False),
    ("whitespace", "whitespace", True, {}, False),
    ("empty-content", "empty-content", False, {}, False),
    ("template-syntax-in-content", "template-syntax-in-content", True, {}, False),
    ("false-string", "false-string", False, {}, False),
    ("system-only+agp", "system-only", True, {}, False),
    ("user-user", "user-user", False, {}, False),
    ("tools", "tools", False, {}, True),
    ("tools+agp-no-tool-list", "tools", True, {}, False),
    ("tools-string-arguments", "tools-string-arguments", True, {}, True),
    ("tool-call-null-content", "tool-call-null-content", False, {}, True),
    ("reasoning-inline", "reasoning-inline", False, {}, False),
    ("reasoning-history", "reasoning-history", False, {}, False),
    ("no-thinking+agp", "single-user", True, {"enable_thinking": False}, False),
    ("thinking-true+agp", "single-user", True, {"enable_thinking": True}, False),
    ("custom-kwarg-eos-override", "single-user", False, {"eos_token": "<END>"}, False),
    ("date-string-kwarg+agp", "system-multi-turn", True, {"date_string": "01 Jan 2025"}, False),
    ("tools-in-system+agp", "tools", True, {"tools_in_user_message": False}, True),
    ("content-parts", "content-parts", True, {}, False),
]


def shared_templates():
    """(template_id, rel_dir, source, special_tokens_map) for shared dirs with a chat template."""
    out = []
    if not os.path.isdir(SHARED_TOKENIZERS):
        print("note: %s absent; shared templates skipped" % SHARED_TOKENIZERS, file=sys.stderr)
        return out
    for name in sorted(os.listdir(SHARED_TOKENIZERS)):
        d = os.path.join(SHARED_TOKENIZERS, name)
        if not os.path.isfile(os.path.join(d, "tokenizer_config.json")):
            continue
        ct, stmap = load_tokenizer_dir(d)
        if ct is None:
            continue
        if isinstance(ct, dict):
            for tname, src in sorted(ct.items()):
                out.append(("shared:%s#%s" % (name, tname), "tokenizers/" + name, tname, src, stmap))
        else:
            out.append(("shared:" + name, "tokenizers/" + name, None, ct, stmap))
    return out


def golden_cases():
    entries = []
    templates = [("builtin:" + k, None, None, v, BUILTIN_SPECIAL_TOKENS[k]) for k, v in BUILTIN_TEMPLATES.items()]
    templates += shared_templates()
    for template_id, shared_dir, template_name, source, stmap in templates:
        compiled = compile_template(source)
        for case, conv, agp, kwargs, with_tools in CASES:
            messages = CONVERSATIONS[conv]
            tools = [WEATHER_TOOL] if with_tools else None

            def run():
                text, spans = render(compiled, json.loads(json.dumps(messages)), tools=tools,
                                     add_generation_prompt=agp, **{**stmap, **kwargs})
                r = {"expected": text}
                if "generation" in source:
                    r["generation_spans"] = spans
                return r

            e = {"template_id": template_id, "case": case}
            if shared_dir:
                e["shared_dir"] = shared_dir
                if template_name:
                    e["template_name"] = template_name
            e.update({"special_tokens": stmap, "messages": messages, "tools": tools,
                      "add_generation_prompt": agp, "kwargs": kwargs})
            e.update(outcome(run))
            entries.append(e)
    return entries


# ---------------------------------------------------------------------------------------------
# Jinja2 semantics probes: (id, template, context)
# ---------------------------------------------------------------------------------------------

EMOJI = "a👋🏽b𝔘c"


def _floats():
    """Doubles across the exponent range, for repr()/json float formatting (seeded, deterministic)."""
    import random
    rng = random.Random(1234)
    xs = [0.1, 0.5, 1e16, 1e15, 1e-4, 1e-5, 123456789012345678.0, 5e-324, 1.7976931348623157e308, 2.5e-05, 100.0]
    for _ in range(120):
        xs.append(rng.uniform(-1, 1) * 10 ** rng.randint(-25, 25))
    return xs


FLOATS = _floats()
PROBES = [
    # str() of values
    ("str-bool", "{{ true }} {{ false }} {{ True }} {{ x }}", {"x": False}),
    ("str-none", "[{{ none }}][{{ None }}][{{ x }}][{{ undefined_thing }}]", {"x": None}),
    ("str-numbers", "{{ 1 }} {{ 1.0 }} {{ 1.5 }} {{ 0.1 + 0.2 }} {{ 1e-5 }} {{ 1e20 }} {{ 2 ** 70 }} {{ -0.0 }} {{ 3 / 2 }} {{ 4 / 2 }} {{ x }}", {"x": 12345678901234}),
    ("str-list", "{{ [1, 'a', none, true, 1.5, {'k': 'v'}, ['n']] }}", {}),
    ("str-dict", "{{ {'a': 1, 'b': 'x', 'c': none} }} {{ d }}", {"d": {"role": "user", "content": "it's \"q\""}}),
    ("str-repr-escapes", "{{ ['it\\'s', 'a\"b', 'back\\\\slash', 'new\\nline', 'tab\\t', 'uni é 👋'] }}", {}),
    ("str-tuple", "{{ (1, 2) }} {{ (1,) }}", {}),
    # string literals and escapes
    ("literal-escapes", "{{ 'a\\nb' }}|{{ \"c\\td\" }}|{{ 'q\\'q' }}|{{ \"d\\\"d\" }}|{{ 'back\\\\slash' }}|{{ '\\u00e9' }}", {}),
    ("literal-raw-newline", "{{ 'line1\nline2' }}", {}),
    # Python str methods
    ("str-strip", "[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ t.strip('xy') }}][{{ t.lstrip('x') }}][{{ t.rstrip('y') }}]", {"s": " \t\n hi there \u00a0\u3000\n", "t": "xyxhixyy"}),
    ("str-split", "{{ s.split() }} {{ s.split(' ') }} {{ c.split(',') }} {{ c.split(',', 1) }} {{ c.rsplit(',', 1) }} {{ d.split('.') }} {{ c.split(',')[-1] }}", {"s": "  a  b\tc\n", "c": "x,y,,z", "d": "a.b"}),
    ("str-startswith", "{{ s.startswith('<tool') }} {{ s.endswith('>') }} {{ s.startswith(('x', '<')) }} {{ s.endswith('nope') }}", {"s": "<tool_response>"}),
    ("str-case", "{{ s.upper() }} {{ s.lower() }} {{ s.title() }} {{ s.capitalize() }} {{ s.swapcase() }}", {"s": "hELLo wORLD ß"}),
    ("str-replace-find", "{{ s.replace('a', 'o') }} {{ s.replace('a', 'o', 1) }} {{ s.find('n') }} {{ s.rfind('a') }} {{ s.find('z') }} {{ s.count('a') }} {{ s.index('n') }}", {"s": "banana"}),
    ("str-join", "{{ ', '.join(xs) }}|{{ xs|join('-') }}|{{ ns|join(',') }}|{{ bs|join }}", {"xs": ["a", "b", "c"], "ns": [1, 2.5, None], "bs": [True, False]}),
    ("str-preds", "{{ '123'.isdigit() }} {{ 'abc'.isalpha() }} {{ ' \\n'.isspace() }} {{ 'Ab1'.isalnum() }} {{ 'AB'.isupper() }} {{ 'ab'.islower() }}", {}),
    ("str-misc", "{{ 'ab'.removeprefix('a') }} {{ 'ab'.removesuffix('b') }} {{ '7'.zfill(3) }} {{ 'a\\nb\\r\\nc'.splitlines() }} {{ 'a-b-c'.partition('-') }}", {}),
    ("str-format", "{{ '%s is %d years'|format('Tom', 3) }} {{ 'x={}'.format(5) }}", {}),
    # code points vs UTF-16
    ("unicode-length", "{{ s|length }} {{ s[1] }} {{ s[-1] }} {{ s[1:3] }} {{ s[::-1] }} {{ s|upper }} {{ s|count }}", {"s": EMOJI}),
    # slicing
    ("slice-list", "{{ xs[1:] }} {{ xs[:2] }} {{ xs[-2:] }} {{ xs[::-1] }} {{ xs[::2] }} {{ xs[1:-1] }} {{ xs[5:] }} {{ xs[-1] }} {{ xs[1:4:2] }}", {"xs": [0, 1, 2, 3, 4]}),
    ("slice-messages", "{% for m in messages[1:] %}{{ m.role }};{% endfor %}{% for m in messages[::-1] %}{{ loop.index0 }}{{ m.role }},{% endfor %}", {"messages": [{"role": "system"}, {"role": "user"}, {"role": "assistant"}]}),
    # truthiness
    ("truthy", "{% for v in vals %}{% if v %}T{% else %}F{% endif %}{% endfor %}|{{ 'false' if 'false' else 'no' }}", {"vals": ["", "false", "False", "0", " ", 0, 1, 0.0, [], [0], {}, {"a": 1}, None, True, False]}),
    ("and-or-values", "{{ a or 'dflt' }}|{{ b or 'dflt' }}|{{ a and 'yes' }}|{{ b and 'yes' }}|{{ none or 0 }}|{{ not a }}|{{ not b }}", {"a": "", "b": "val"}),
    # None vs undefined
    ("none-vs-undefined", "{{ x is defined }} {{ x is none }} {{ y is defined }} {{ y is none }} {{ x is not none }} {{ y is not none }} {{ x == none }} {{ y == none }} {{ x is undefined }} {{ y is undefined }}", {"x": None}),
    ("tools-none-defined", "{{ tools is defined }} {{ tools is none }} {% if tools %}T{% else %}F{% endif %} {{ documents is defined }}", {"tools": None, "documents": None}),
    ("default-filter", "[{{ x|default('d') }}][{{ y|default('d') }}][{{ e|default('d') }}][{{ e|default('d', true) }}][{{ x|d('d', true) }}]", {"x": None, "e": ""}),
    ("missing-key", "[{{ m.nope }}][{{ m['nope'] }}]{{ m.nope is defined }}{% if m.nope %}T{% else %}F{% endif %}", {"m": {"role": "user"}}),
    ("set-none", "{% set t = none %}{{ t is none }} {{ t is defined }} {{ t }}", {}),
    # type tests
    ("type-tests", "{% for v in vals %}{{ v is string }}{{ v is mapping }}{{ v is iterable }}{{ v is sequence }}{{ v is number }}{{ v is integer }}{{ v is float }}{{ v is boolean }}{{ v is none }};{% endfor %}", {"vals": ["s", {"a": 1}, [1], 1, 1.5, True, None]}),
    ("value-tests", "{{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ true is true }} {{ 1 is true }} {{ false is false }} {{ 0 is false }} {{ 'a' is lower }} {{ 'A' is upper }} {{ 2 is eq 2 }} {{ 2 is equalto 2 }} {{ 1 is lt 2 }} {{ 'a' is in 'abc' }}", {}),
    # comparisons and arithmetic
    ("equality", "{{ 'abc' != false }} {{ '' == false }} {{ 1 == 1.0 }} {{ true == 1 }} {{ '1' == 1 }} {{ [1, 2] == [1, 2] }} {{ {'a': 1} == {'a': 1} }} {{ none == none }} {{ 'a' == 'a' }} {{ 0 == false }}", {}),
    ("ordering", "{{ 1 < 2 }} {{ 'a' < 'b' }} {{ 'B' < 'a' }} {{ 2 >= 2.0 }} {{ [1, 2] < [1, 3] }}", {}),
    ("arithmetic", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 10 - 3 - 2 }} {{ -x }}", {"x": 5}),
    ("string-ops", "{{ 'ab' + 'cd' }} {{ 'ab' * 3 }} {{ 'x' ~ 1 ~ true ~ none }} {{ [1] + [2] }} {{ 'b' in 'abc' }} {{ 'z' not in 'abc' }} {{ 1 in [1, 2] }} {{ 'k' in {'k': 1} }}", {}),
    ("concat-str-int-error", "{{ 'a' + 1 }}", {}),
    # loops
    ("loop-vars", "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}", {"xs": ["a", "b", "c"]}),
    ("loop-cycle", "{% for x in xs %}{{ loop.cycle('odd', 'even') }} {% endfor %}", {"xs": [1, 2, 3]}),
    ("loop-else", "{% for x in xs %}{{ x }}{% else %}empty{% endfor %}", {"xs": []}),
    ("loop-filter", "{% for x in xs if x > 1 %}{{ x }}{{ loop.index }},{% endfor %}", {"xs": [1, 2, 3]}),
    ("loop-break-continue", "{% for x in xs %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}", {"xs": [1, 2, 3, 4, 5]}),
    ("loop-dict", "{% for k in d %}{{ k }},{% endfor %}|{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{{ d.keys()|list }}|{{ d.values()|list }}|{{ d|length }}", {"d": {"b": 1, "a": None, "c": [1]}}),
    ("loop-tuple-unpack", "{% for a, b in pairs %}{{ a }}-{{ b }},{% endfor %}", {"pairs": [[1, "x"], [2, "y"]]}),
    ("loop-scoping", "{% set c = 0 %}{% for x in xs %}{% set c = c + x %}{% endfor %}{{ c }}|{% set ns = namespace(c=0) %}{% for x in xs %}{% set ns.c = ns.c + x %}{% endfor %}{{ ns.c }}", {"xs": [1, 2, 3]}),
    ("loop-reassign-var", "{% for tc in calls %}{% if tc.function %}{% set tc = tc.function %}{% endif %}{{ tc.name }},{% endfor %}", {"calls": [{"function": {"name": "f"}}, {"name": "g"}]}),
    ("loop-nested-index", "{% for a in xs %}{% for b in xs %}{{ loop.index0 }}{% endfor %}{{ loop.index0 }}|{% endfor %}", {"xs": [1, 2]}),
    ("range", "{{ range(3)|list }} {{ range(1, 4)|list }} {{ range(0, 10, 3)|list }} {{ range(3, 0, -1)|list }}", {}),
    # filters
    ("trim-filter", "[{{ s|trim }}][{{ s|trim('x ') }}]", {"s": " \u00a0x hello x\u3000\n"}),
    ("tojson", "{{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ u|tojson }}|{{ u|tojson(ensure_ascii=True) }}|{{ d|tojson(sort_keys=True) }}|{{ d|tojson(separators=(',', ':')) }}", {"d": {"b": [1, 2.5, None, True], "a": {"x": "y"}, "e": [], "f": {}}, "u": "é \"👋\" </script>\n\t\u0001"}),
    ("tojson-numbers", "{{ [1, 1.0, 1.5, 1e-7, 1e21, 123456789.125, -0.0]|tojson }}", {}),
    ("tojson-indent-nested", "{{ t|tojson(indent=4) }}", {"t": {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}, "required": ["a"]}}}}),
    ("length-count", "{{ xs|length }} {{ s|length }} {{ d|length }} {{ xs|count }}", {"xs": [1, 2, 3], "s": "héllo", "d": {"a": 1}}),
    ("case-filters", "{{ s|upper }} {{ s|lower }} {{ s|title }} {{ s|capitalize }}", {"s": "hello wORLD-foo bar's"}),
    ("replace-filter", "{{ s|replace('a', 'o') }} {{ s|replace('a', 'o', 2) }}", {"s": "banana"}),
    ("first-last-list", "{{ xs|first }} {{ xs|last }} {{ 'abc'|list }} {{ xs|reverse|list }} {{ 'abc'|reverse }}", {"xs": [1, 2, 3]}),
    ("map-select", "{{ ms|map(attribute='role')|list }} {{ ms|selectattr('role', 'equalto', 'user')|list|length }} {{ ms|rejectattr('role', 'equalto', 'user')|map(attribute='content')|join(',') }} {{ [1, 2, 3, 4]|select('odd')|list }} {{ ['a', 'B']|map('upper')|list }}", {"ms": [{"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "u2"}]}),
    ("items-filter", "{% for k, v in d|items %}{{ k }}{{ v }}{% endfor %} {% for k, v in d|dictsort %}{{ k }}{{ v }}{% endfor %}", {"d": {"b": 2, "a": 1}}),
    ("int-float-string", "{{ '42'|int + 1 }} {{ '3.5'|float }} {{ 3.9|int }} {{ 1|float }} {{ 12|string + 'x' }} {{ none|string }} {{ true|string }}", {}),
    ("indent-filter", "{{ s|indent(2) }}|{{ s|indent(2, true) }}|{{ s|indent(2, first=true, blank=true) }}", {"s": "a\n\nb\nc"}),
    ("misc-filters", "{{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ [1, 2, 3]|sum }} {{ [3, 1, 2]|max }} {{ [3, 1, 2]|min }} {{ [1, 1, 2]|unique|list }} {{ -3|abs }} {{ 2.567|round(2) }} {{ 'a b c'|wordcount }}", {}),
    ("escape-safe", "{{ s|e }} {{ s|safe }} {{ s|escape }}", {"s": "<a href=\"x\">&'</a>"}),
    # dict / namespace helpers
    ("dict-global", "{% set d = dict(a=1, b='x') %}{{ d.a }}{{ d['b'] }}{{ d|length }}", {}),
    ("dict-get", "{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 'dflt') }} {{ d['a'] }}", {"d": {"a": 1}}),
    ("namespace", "{% set ns = namespace(found=false, n=0, msg='') %}{% for x in xs %}{% if x == 2 %}{% set ns.found = true %}{% endif %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.found }} {{ ns.n }}", {"xs": [1, 2, 3]}),
    # macros, set blocks
    ("macro", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bo', punct='?') }}", {}),
    ("set-block", "{% set x %}inner {{ 1 + 1 }}{% endset %}[{{ x }}]", {}),
    ("ternary", "{{ 'a' if x else 'b' }} {{ 'a' if not x else 'b' }} {{ 'only-if' if x }}", {"x": ""}),
    ("strftime", "{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S') }}|{{ strftime_now('%A %B %j %I %p %y %a') }}", {}),
    ("raise-exception", "{% if x %}{{ raise_exception('x is set: ' ~ x) }}{% endif %}after", {"x": 1}),
    ("raise-exception-in-loop", "{% for m in ms %}{{ m }}{% if m == 2 %}{{ raise_exception('Bad message ' + m|string) }}{% endif %}{% endfor %}", {"ms": [1, 2, 3]}),
    # whitespace control: trim_blocks + lstrip_blocks
    ("ws-trim-blocks", "{% if true %}\nA\n{% endif %}\nB\n", {}),
    ("ws-lstrip-blocks", "  {% if true %}\n  X\n  {% endif %}\nY", {}),
    ("ws-explicit", "a  {%- if true -%}  b  {%- endif -%}  c\n{{- ' d ' -}}\n e", {}),
    ("ws-comment", "a\n  {# comment #}\nb {#- c2 -#} c\n", {}),
    ("ws-plus", "  {%+ if true %}x{% endif +%}\ny", {}),
    ("ws-raw", "{% raw %}{{ not evaluated }}\n{% endraw %}z", {}),
    ("ws-trailing-newline", "end\n", {}),
    ("ws-crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", {}),
    ("ws-expression-no-trim", "{{ 'a' }}\n{{ 'b' }}\n", {}),
    ("ws-indented-block", "{%- for m in ms %}\n    {{- m }}\n    {%- if not loop.last %}\n        {{- ',' }}\n    {%- endif %}\n{%- endfor %}", {"ms": [1, 2]}),
    # precedence and parsing corners
    ("not-precedence", "{{ not xs|length == 1 }} {{ not a and b }} {{ not a or b }} {{ not 'x' in 'abc' }} {{ -x|abs }} {{ -(x|abs) }} {{ (1, 2) == (1, 2) }}", {"xs": [1, 2], "a": False, "b": True, "x": 3}),
    ("globals-defined", "{{ strftime_now is defined }} {{ raise_exception is defined }} {{ range is defined }} {{ nope is defined }} {{ strftime_now is callable }} {{ 'x' is callable }}", {}),
    ("braces-in-tags", "{{ '}}' }}|{{ {'a': {'b': 1}}['a']['b'] }}|{% set d = {'k': '%}'} %}{{ d.k }}|{{ \"{{\" }}", {}),
    ("set-tuple", "{% set a, b = 1, 'two' %}{{ a }}-{{ b }}", {}),
    ("set-in-if-visible", "{% if true %}{% set v = 'inner' %}{% endif %}{{ v }}", {}),
    ("macro-caller", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold{% endcall %}", {}),
    ("loop-previtem", "{% for x in xs %}{{ loop.previtem }}>{{ x }}<{{ loop.nextitem }};{% endfor %}", {"xs": ["a", "b", "c"]}),
    ("namespace-list", "{% set ns = namespace(items=[]) %}{% for x in xs %}{% set ns.items = ns.items + [x * 2] %}{% endfor %}{{ ns.items }}", {"xs": [1, 2, 3]}),
    ("content-slice", "{{ m.content[:5] }}|{{ m['content'][-3:] }}|{{ m.content[2] }}", {"m": {"content": "Hello world"}}),
    ("is-not-defined", "{{ x is not defined }} {{ y is not defined }} {{ 'd' if y is not defined else y }}", {"x": 1}),
    ("ws-raw-markers", "a  {%- raw -%}  {{ x }}  {%- endraw -%}  b", {}),
    ("ws-variable-plus", "a\n  {{+ 'b' }}\n  {{- 'c' }}", {}),
    ("string-compare", "{{ 'a' < 'b' }} {{ 'abc' == 'abc' }} {{ 'a' in ('a', 'b') }} {{ ['a', 'b'] | join(', ') }}", {}),
    ("dict-literal-vars", "{% set k = 'key' %}{% set d = {k: 1, 'lit': 2} %}{{ d|tojson }}", {}),
    ("filter-tag", "{% filter upper %}hello {{ 'x' }}{% endfilter %}", {}),
    ("nested-loop-loopvar", "{% for a in [1, 2] %}{% set outer = loop %}{% for b in [3, 4] %}{{ outer.index }}{{ loop.index }},{% endfor %}{% endfor %}", {}),
    ("keyword-names", "{{ d.empty }} {{ d.div }} {{ d['mod'] }} {% set eq = 'E' %}{{ eq }} {{ null is defined }}", {"d": {"empty": "e", "div": "v", "mod": "m"}}),
    ("float-repr", "{{ xs }}|{{ xs|tojson }}", {"xs": FLOATS}),
    ("loop-depth", "{% for a in [1] %}{{ loop.depth }}{{ loop.depth0 }}{% for b in [2] %}{{ loop.depth }}{% endfor %}{% endfor %}", {}),
    ("with-tag", "{% set x = 1 %}{% with x = 2, y = [x, 3] %}{{ x }}{{ y }}{% endwith %}{{ x }}{{ y is defined }}", {}),
    # sandbox (ImmutableSandboxedEnvironment)
    ("sandbox-list-append", "{{ xs.append(1) }}", {"xs": []}),
    ("sandbox-dict-update", "{{ d.update({'a': 1}) }}", {"d": {}}),
    ("sandbox-range-limit", "{{ range(100001)|length }}", {}),
    ("sandbox-dunder", "{{ ''.__class__ }}", {}),
    # errors
    ("undefined-attr-of-undefined", "{{ nothing.attr }}", {}),
    ("unknown-filter", "{{ 1|no_such_filter }}", {}),
    # the rest of Jinja2's built-in filters
    ("filter-attr", "{{ m|attr('role') }}|{{ m|attr('nope') }}|{{ (m|items|list)[0]|attr('0') }}", {"m": {"role": "user"}}),
    ("filter-batch", "{% for row in xs|batch(3) %}{{ row }};{% endfor %}|{{ xs|batch(4, 'x')|list }}|{{ []|batch(2)|list }}",
     {"xs": [1, 2, 3, 4, 5, 6, 7]}),
    ("filter-slice", "{{ xs|slice(3)|list }}|{{ xs|slice(3, 0)|list }}|{{ xs[:2]|slice(4)|list }}", {"xs": [1, 2, 3, 4, 5, 6, 7]}),
    ("filter-groupby", "{% for g in ms|groupby('role') %}{{ g.grouper }}:{{ g.list|map(attribute='n')|join(',') }} {% endfor %}"
     "|{% for key, items in ms|groupby('role', case_sensitive=true) %}{{ key }}={{ items|length }} {% endfor %}"
     "|{% for g in ms|groupby('x', default='none') %}{{ g.grouper }}{{ g[1]|length }}{% endfor %}|{{ (ms|groupby('role'))[0] }}",
     {"ms": [{"role": "user", "n": 1}, {"role": "assistant", "n": 2}, {"role": "User", "n": 3}, {"role": "user", "n": 4, "x": "a"}]}),
    ("filter-groupby-index", "{% for g in rows|groupby(1) %}{{ g.grouper }}{{ g.list }} {% endfor %}", {"rows": [[1, "b"], [2, "a"], [3, "b"]]}),
    ("filter-truncate", "{{ s|truncate(9) }}|{{ s|truncate(9, True) }}|{{ s|truncate(9, leeway=0) }}|{{ s|truncate(9, False, '…', 0) }}"
     "|{{ s|truncate(255) }}|{{ 'abcdefghijklmnopq'|truncate(10, leeway=0) }}", {"s": "Hello wonderful world"}),
    ("filter-truncate-too-short", "{{ 'abcdef'|truncate(2, leeway=0) }}", {}),
    ("filter-filesizeformat", "{{ 1|filesizeformat }}|{{ 0|filesizeformat }}|{{ 999|filesizeformat }}|{{ 1000|filesizeformat }}"
     "|{{ 1250|filesizeformat }}|{{ 1050|filesizeformat }}|{{ 1550000|filesizeformat }}|{{ 1024|filesizeformat(true) }}"
     "|{{ 3000000000000|filesizeformat(binary=true) }}|{{ '2048'|filesizeformat }}|{{ 1e30|filesizeformat }}|{{ 12.7|filesizeformat }}", {}),
    ("filter-urlencode", "{{ 'a b/c&d=é?'|urlencode }}|{{ {'q': 'a b', 'x': 'é&'}|urlencode }}|{{ [['k', 1], ['z', 'y z']]|urlencode }}|{{ 42|urlencode }}", {}),
    ("filter-xmlattr", "<p{{ {'class': 'a&b', 'id': none, 'data-x': '\"q\"'}|xmlattr }}>|<p{{ {}|xmlattr }}>|{{ {'a': 1}|xmlattr(false) }}", {}),
    ("filter-xmlattr-bad-key", "{{ {'a b': 1}|xmlattr }}", {}),
    ("syntax-error", "{% if %}", {}),
    ("unclosed-block", "{% for x in xs %}{{ x }}", {"xs": [1]}),
]


def probe_cases():
    entries = []
    for pid, source, context in PROBES:
        def run():
            t = compile_template(source)
            text, _ = render(t, **{"messages": context.get("messages", []), **{k: v for k, v in context.items() if k != "messages"}})
            return {"expected": text}

        e = {"id": pid, "template": source, "context": context}
        e.update(outcome(run))
        entries.append(e)
    return entries


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def main():
    os.makedirs(BUILTIN_DIR, exist_ok=True)
    for name, source in BUILTIN_TEMPLATES.items():
        with open(os.path.join(BUILTIN_DIR, name + ".jinja"), "w", encoding="utf-8", newline="\n") as f:
            f.write(source)
    meta = {"generator": "tools/golden/chat_templates.py", "jinja2": jinja2.__version__,
            "python": sys.version.split()[0], "strftime_now": FIXED_NOW.isoformat()}
    goldens = golden_cases()
    write_json(os.path.join(OUT_DIR, "goldens.json"), {"meta": meta, "cases": goldens})
    probes = probe_cases()
    write_json(os.path.join(OUT_DIR, "jinja-semantics.json"), {"meta": meta, "cases": probes})
    n_err = sum(1 for c in goldens if "expected_error" in c)
    print("goldens: %d cases (%d expected errors); probes: %d" % (len(goldens), n_err, len(probes)))


if __name__ == "__main__":
    main()
