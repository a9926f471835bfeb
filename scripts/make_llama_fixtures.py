#!/usr/bin/env python3
"""Regenerate the llama.cpp parity fixtures for one GGUF model.

Uses llama-cpp-python (which vendors llama.cpp) as the reference and writes
into <out>/<name>/:

  tokenize.json   corpus strings -> token ids (tokenize(add_bos=False, special=True)),
                  per-token pieces (hex) with special=False and special=True, and the
                  whole-sequence detokenization
  chat.json       conversations rendered with the GGUF's own Jinja chat template
                  (tokenizer.chat_template, add_generation_prompt=True)
  generate.json   greedy (pure argmax) continuations, up to 32 tokens, stopping at
                  end-of-generation tokens; per step the top-1/top-2 logit margin; per prompt
                  "stable": whether all four llama.cpp configurations (see CONFIGS) give the
                  identical token sequence, the variants' sequences where they differ, and
                  always the f32_weights continuation in full ("f32_weights")
  logits.json     prompts + token ids of the final-position logit dumps, reference top-10 ids,
                  and how far the variant configurations move the logits (max |d|, rms,
                  whether top-1 / the top-10 set survive)
  logits/<i>.f32  raw little-endian float32 final-position logits (n_vocab floats), reference
                  configuration
  logits_f32/<i>.f32  the same for the f32_weights configuration (logits.json: file_f32_weights)
  meta.json       versions, settings, the four configurations, variant summary, model
                  SHA-256 (and that of the F32 copy), EOG ids, date

Why four configurations: a small quantized model's final logits move by ~0.1-0.9 rms
(max ~1.8) when llama.cpp itself changes only its rounding (F32 instead of F16 KV cache,
flash attention on, F32 weights). Greedy steps whose top-1/top-2 margin is below that can flip, so a
continuation is a property of the model (and something an independent implementation can
be held to) only if it survives those numerically-equivalent changes ("stable"). The fourth
configuration, f32_weights, runs the same model dequantized once to F32 weights (a temporary
GGUF made with llama_model_quantize, ftype ALL_F32, deleted at the end) with an F32 KV cache
and flash attention off: that is plain float32 arithmetic, without the 8-bit quantization of
activations that llama.cpp's quantized matrix products use, so a continuation stable across
all four does not hinge on llama.cpp's particular rounding.

Usage (from the repo root):
  /work/cache/llamavenv/bin/python scripts/make_llama_fixtures.py \
      --model /work/main/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf \
      --name smollm2-135m --out Tests/Fixtures \
      --llama-cpp-commit 0c1e57098bba43ac29e6e3b677cdceebdd22334f
"""
from __future__ import annotations

import argparse
import ctypes
import datetime
import hashlib
import json
import os
import platform
import sys
import tempfile

import numpy as np

import llama_cpp
from llama_cpp import Llama
from llama_cpp._utils import suppress_stdout_stderr

import gguf

N_THREADS = 4
N_CTX = 4096
N_BATCH = 2048
N_UBATCH = 512
SEED = 1234
GEN_TOKENS = 32
# logits format "sample": the reference's SAMPLE_TOP highest ids and SAMPLE_STRIDED evenly spaced ones
SAMPLE_TOP = 256
SAMPLE_STRIDED = 768

GGML_TYPE_F32 = 0
GGML_TYPE_F16 = 1
LLAMA_FTYPE_ALL_F32 = 0
# llama.cpp configurations that are numerically equivalent (same model, same math, other
# rounding). The first is the reference whose outputs the fixtures record; the others only
# decide what is stable. Each runs in its own freshly created (and afterwards freed) context.
# "weights": "gguf" loads --model as it is; "f32" loads a temporary copy of it dequantized to
# F32 (every tensor; llama_model_quantize with ftype ALL_F32), so its matrix products are plain
# float32 ones instead of quantized-weight x 8-bit-quantized-activation dot products.
CONFIGS: list[dict] = [
    {"name": "reference", "weights": "gguf", "type_k": GGML_TYPE_F16, "type_v": GGML_TYPE_F16,
     "flash_attn": False, "desc": "F16 KV cache, flash attention off (llama.cpp CPU defaults)"},
    {"name": "kv_f32", "weights": "gguf", "type_k": GGML_TYPE_F32, "type_v": GGML_TYPE_F32,
     "flash_attn": False, "desc": "F32 KV cache, flash attention off"},
    {"name": "flash_attn", "weights": "gguf", "type_k": GGML_TYPE_F16, "type_v": GGML_TYPE_F16,
     "flash_attn": True, "desc": "F16 KV cache, flash attention on"},
    {"name": "f32_weights", "weights": "f32", "type_k": GGML_TYPE_F32, "type_v": GGML_TYPE_F32,
     "flash_attn": False,
     "desc": "model dequantized to F32 weights (llama_model_quantize, ftype ALL_F32), F32 KV cache, "
             "flash attention off: float32 arithmetic throughout, no 8-bit activation quantization"},
]
CONFIG_KEYS = ("name", "weights", "type_k", "type_v", "flash_attn", "desc")

# --------------------------------------------------------------------------
# Tokenizer corpus
# --------------------------------------------------------------------------
TOKENIZE_CORPUS: list[tuple[str, str]] = [
    # (category, text)
    ("empty", ""),
    ("space", " "),
    ("ascii", "Hello world"),
    ("ascii", "Hello, world! How are you today?"),
    ("ascii", "The quick brown fox jumps over the lazy dog."),
    ("ascii", " leading space and trailing space "),
    ("accents", "café naïve résumé — über Straße, niño, Ångström"),
    ("accents", "Ça va? Où est la bibliothèque? Él está aquí. Müller"),
    ("cjk", "中文"),
    ("cjk", "我喜欢学习中文。今天天气很好！"),
    ("cjk", "日本語のテキスト、カタカナとひらがな。"),
    ("cjk", "한국어 텍스트입니다. 안녕하세요!"),
    ("emoji", "I love 🍕 and 🚀!"),
    ("emoji", "family: 👨‍👩‍👧‍👦 zwj, thumbs: 👍🏽, flags: 🇫🇷🇯🇵🇺🇸"),
    ("emoji", "❤️ ✨ 🧑‍💻 ☕"),
    ("code", "def add(a, b):\n    return a + b\n\nprint(add(2, 3))\n"),
    ("code", "import Foundation\n\nstruct Point: Equatable {\n    var x: Double\n    var y: Double\n}\n\nlet p = Point(x: 1.5, y: -2)\n"),
    ("code", '{"name": "SmolLM2", "params": 135000000, "tags": ["llm", "gguf"], "ok": true, "x": null}'),
    ("code", "#include <stdio.h>\n\nint main(void) {\n\tfor (int i = 0; i < 10; i++) {\n\t\tprintf(\"%d\\n\", i);\n\t}\n\treturn 0;\n}\n"),
    ("code", "if (x != y && z >= 0) { a[i] += *p++; } // comment"),
    ("numbers", "12345678"),
    ("numbers", "3.14159 and 2.71828"),
    ("numbers", "1,000,000 people; 42% of 7 billion"),
    ("numbers", "2024-06-11T12:34:56Z, 11/06/2024, June 11th, 1999"),
    ("numbers", "0x1F 0b1010 1e-5 -273.15 +1"),
    ("spaces", "a  b"),
    ("spaces", "a   b"),
    ("spaces", "a       b"),
    ("spaces", "  two leading"),
    ("spaces", "trailing three   "),
    ("spaces", "       "),
    ("newlines", "line one\nline two"),
    ("newlines", "para one\n\n\npara two"),
    ("newlines", "windows\r\nline endings\r\n"),
    ("newlines", "space \n newline \n\n mix  \n"),
    ("newlines", "\n"),
    ("newlines", "\n\n"),
    ("tabs", "col1\tcol2\t\tcol3"),
    ("tabs", "\t\tindented with tabs"),
    ("contractions", "don't can't won't it's we're I've you'd"),
    ("contractions", "I'M SHOUTING, DON'T YOU THINK? THEY'LL HEAR"),
    ("contractions", "they'll she's y'all 'quoted'"),
    ("punctuation", "Wait!!! What...? Really?! Yes."),
    ("punctuation", "...!!!???---___***"),
    ("punctuation", "«guillemets» “smart quotes” ‘single’ — en–dash … ellipsis"),
    ("special", "<|im_start|>user\nhi<|im_end|>\n"),
    ("special", "<|endoftext|>"),
    ("special", "text before<|endoftext|>text after"),
    ("special", "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n"),
    ("special", "<|im_start|> spaced <|im_end|>"),
    ("special", "<repo_name>demo<file_sep>main.py"),
    ("url", "Visit https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct?x=1&y=2#top now."),
    ("url", "mailto:someone@example.com ftp://ftp.example.org/pub/file.tar.gz"),
    ("markdown", "# Title\n\n## Subtitle\n\n- item *one*\n- item **two**\n\n> quote\n\n`code` and [link](http://a.b)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"),
    ("mixed", (
        "In 2023, researchers at Hugging Face released SmolLM — a family of small "
        "language models (135M, 360M & 1.7B parameters). Les modèles sont petits, "
        "mais efficaces! 小型模型也很有用。They're trained on ~600B tokens; see "
        "https://hf.co/blog/smollm for details.\n\n\tExample: `model.generate(\"Hi\")` "
        "→ \"Hello!\" 😊\n   Cost: $0.00/hr (approx.)  \r\nEnd."
    )),
    ("unicode", "Ελληνικά, русский текст, עברית, العربية, हिन्दी, ไทย"),
    ("unicode", "math: ∑ ∫ √2 ≈ 1.414, α+β=γ, x² + y³, ½ ¼"),
    ("unicode", "combining: e\u0301 a\u0308 n\u0303 vs é ä ñ; zero\u200bwidth"),
    ("unicode", "nbsp:\u00a0here, ideographic space:\u3000there"),
]

# --------------------------------------------------------------------------
# Chat conversations
# --------------------------------------------------------------------------
CONVERSATIONS: list[list[dict]] = [
    [
        {"role": "user", "content": "What is the capital of France?"},
    ],
    [
        {"role": "system", "content": "You are a concise assistant. Answer in one sentence."},
        {"role": "user", "content": "Why is the sky blue?"},
    ],
    [
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello! How can I help you today?"},
        {"role": "user", "content": "Give me three colors."},
    ],
    [
        {"role": "system", "content": "Tu es un assistant utile.\nRéponds en français."},
        {"role": "user", "content": "Écris une liste:\n- pomme\n- poire\n\nMerci 😊"},
        {"role": "assistant", "content": "Bien sûr :\n1. pomme\n2. poire"},
        {"role": "user", "content": "Et en 中文?"},
    ],
    [
        {"role": "user", "content": "Write a Python function that adds two numbers."},
    ],
    # single-turn conversations used as greedy-generation candidates (indices 5..)
    [{"role": "user", "content": "Write a haiku about the sea."}],
    [{"role": "user", "content": "List three primary colors."}],
    [{"role": "user", "content": "How many days are there in a week?"}],
    [{"role": "user", "content": "What is the plural of mouse?"}],
    [{"role": "user", "content": "Write a Python function that returns the square of a number."}],
    [{"role": "user", "content": "What is the capital of Italy?"}],
    [{"role": "user", "content": "How do you say thank you in French?"}],
    [{"role": "user", "content": "Define the word 'gravity' in one sentence."}],
]

# Greedy-generation candidates: 12 plain, 12 chat. Only those whose continuation is identical
# under every configuration in CONFIGS are marked "stable" in generate.json. The first three
# plain and chat prompts are the original fixtures (all unstable with SmolLM2-135M Q4_1); most
# others were picked from a larger screened pool because they came out stable, so that the
# fixtures hold at least 8 stable prompts, at least 3 of each kind (with SmolLM2-135M Q4_1 and
# all four configurations: 10, 6 plain and 4 chat).
PLAIN_PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n",
    "Once upon a time, in a small village by the sea,",
    "def add(a, b):",
    "The three laws of thermodynamics are",
    "Here is a list of fruits:\n1. Apple\n2.",
    "1, 2, 3, 4, 5,",
    "def factorial(n):",
    "Ingredients:\n- 2 cups flour\n-",
    "The alphabet: a b c d e f",
    "The chemical symbol for gold is",
    "The largest planet in our solar system is",
]
CHAT_PROMPT_CONVERSATIONS = [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12]  # indices into CONVERSATIONS

# Real prose (public domain) for the long logit prompts.
GETTYSBURG = (
    "Four score and seven years ago our fathers brought forth on this continent, a new nation, "
    "conceived in Liberty, and dedicated to the proposition that all men are created equal.\n\n"
    "Now we are engaged in a great civil war, testing whether that nation, or any nation so "
    "conceived and so dedicated, can long endure. We are met on a great battle-field of that war. "
    "We have come to dedicate a portion of that field, as a final resting place for those who here "
    "gave their lives that that nation might live. It is altogether fitting and proper that we "
    "should do this.\n\n"
    "But, in a larger sense, we can not dedicate -- we can not consecrate -- we can not hallow -- "
    "this ground. The brave men, living and dead, who struggled here, have consecrated it, far "
    "above our poor power to add or detract. The world will little note, nor long remember what "
    "we say here, but it can never forget what they did here. It is for us the living, rather, to "
    "be dedicated here to the unfinished work which they who fought here have thus far so nobly "
    "advanced. It is rather for us to be here dedicated to the great task remaining before us -- "
    "that from these honored dead we take increased devotion to that cause for which they gave the "
    "last full measure of devotion -- that we here highly resolve that these dead shall not have "
    "died in vain -- that this nation, under God, shall have a new birth of freedom -- and that "
    "government of the people, by the people, for the people, shall not perish from the earth.\n\n"
)
TALE = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age "
    "of foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season "
    "of Light, it was the season of Darkness, it was the spring of hope, it was the winter of "
    "despair, we had everything before us, we had nothing before us, we were all going direct to "
    "Heaven, we were all going direct the other way -- in short, the period was so far like the "
    "present period, that some of its noisiest authorities insisted on its being received, for "
    "good or for evil, in the superlative degree of comparison only.\n\n"
    "There were a king with a large jaw and a queen with a plain face, on the throne of England; "
    "there were a king with a large jaw and a queen with a fair face, on the throne of France. In "
    "both countries it was clearer than crystal to the lords of the State preserves of loaves and "
    "fishes, that things in general were settled for ever.\n\n"
    "It was the year of Our Lord one thousand seven hundred and seventy-five. Spiritual revelations "
    "were conceded to England at that favoured period, as at this. Mrs. Southcott had recently "
    "attained her five-and-twentieth blessed birthday, of whom a prophetic private in the Life "
    "Guards had heralded the sublime appearance by announcing that arrangements were made for the "
    "swallowing up of London and Westminster."
)
PRIDE = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
    "must be in want of a wife. However little known the feelings or views of such a man may be on "
    "his first entering a neighbourhood, this truth is so well fixed in the minds of the "
    "surrounding families, that he is considered the rightful property of some one or other of "
    "their daughters."
)


def logits_prompts(chat_texts: list[str]) -> list[dict]:
    return [
        {"label": "short", "text": "The quick brown fox jumps over the"},
        {"label": "chat", "text": chat_texts[0]},
        {"label": "code", "text": "import numpy as np\n\ndef softmax(x):\n    e = np.exp(x - x.max())\n    return e / e.sum()\n\nprint(softmax(np.array([1.0, 2.0, 3.0])))\n# Output:"},
        {"label": "prose-100", "text": PRIDE + " " + TALE[:260]},
        {"label": "prose-500", "text": GETTYSBURG + TALE},
    ]



# --------------------------------------------------------------------------
# Qwen2.5-Coder profile: the same corpus plus Qwen's special and FIM tokens, code in several languages, long
# whitespace runs and digit runs (the qwen2 pre-tokenizer splits digits one by one); code-heavy greedy prompts.
# --------------------------------------------------------------------------
QWEN_EXTRA_CORPUS: list[tuple[str, str]] = [
    ("special", "<|fim_prefix|>def is_even(n):\n    <|fim_suffix|>\n    return result<|fim_middle|>"),
    ("special", "<|repo_name|>dapq-probe<|file_sep|>src/main.py\nprint('hi')\n<|file_sep|>README.md\n# Title"),
    ("special", "<|endoftext|><|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n"),
    ("special", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"),
    ("special", "<|fim_pad|><|fim_pad|><|object_ref_start|>x<|object_ref_end|><|box_start|>(1,2)<|box_end|>"),
    ("special", "not special: <|im_start|extra> <| im_end |> <|endoftext"),
    ("code", "fn main() {\n    let v: Vec<i32> = (1..=10).map(|x| x * x).collect();\n    println!(\"{:?}\", v);\n}\n"),
    ("code", "const sum = (arr) => arr.reduce((a, b) => a + b, 0);\nconsole.log(sum([1, 2, 3])); // 6\n"),
    ("code", "SELECT u.name, COUNT(*) AS n\nFROM users u\nJOIN orders o ON o.user_id = u.id\nGROUP BY u.name\nHAVING n > 3;\n"),
    ("code", "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n        self.items.append(x)\n"),
    ("code", "# 计算斐波那契数列\ndef fib(n):\n    \"\"\"返回第 n 项 🐍\"\"\"\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"),
    ("code", "<html>\n  <body>\n    <p class=\"x\">&nbsp;&lt;tag&gt;</p>\n  </body>\n</html>\n"),
    ("spaces", "x" + " " * 16 + "y" + " " * 33 + "z"),
    ("spaces", "        if x:\n                return y\n\t\t\t\telse:\n"),
    ("newlines", "\n\n\n\n\n\nend\r\n\r\n"),
    ("numbers", "1234567890 12345678901234567890 3.14159265358979"),
    ("emoji", "🤖🚀🔥💯 ✅❌ 👩🏾‍🔬 🏳️‍🌈"),
    ("cjk", "函数返回一个列表。関数はリストを返します。함수는 목록을 반환합니다."),
]

QWEN_PLAIN_PROMPTS = [
    "def fibonacci(n):\n",
    "def add(a, b):",
    "def factorial(n):",
    "def is_prime(n):\n    \"\"\"Return True if n is a prime number.\"\"\"\n",
    "import numpy as np\n\n# Create a 3x3 identity matrix\n",
    "function reverseString(s) {\n",
    "SELECT name, email FROM users WHERE",
    "The capital of France is",
    "1, 2, 3, 4, 5,",
    "// Swift: sum of an array\nfunc sum(_ xs: [Int]) -> Int {\n",
    "<|fim_prefix|>def area(r):\n    <|fim_suffix|>\n    return a<|fim_middle|>",
    "#include <stdio.h>\n\nint main(void) {\n",
]

QWEN_CONVERSATIONS: list[list[dict]] = [
    [{"role": "user", "content": "Write a Python function that reverses a string."}],
    [{"role": "user", "content": "What does the `len` function do in Python?"}],
    [{"role": "user", "content": "Write a SQL query that counts the rows of a table named users."}],
    [{"role": "user", "content": "Explain what a hash map is in one sentence."}],
    [{"role": "user", "content": "Write a JavaScript function that returns the maximum of an array."}],
    [{"role": "user", "content": "用一句话解释什么是递归。"}],
    [{"role": "system", "content": "You are a terse coding assistant."},
     {"role": "user", "content": "How do I read a file line by line in Python?"}],
]


def profile_lists(profile: str) -> dict:
    """The corpus, conversations and prompt lists of a profile ("smollm2": the original lists, unchanged)."""
    if profile == "smollm2":
        return {"corpus": TOKENIZE_CORPUS, "conversations": CONVERSATIONS, "plain": PLAIN_PROMPTS,
                "chat": CHAT_PROMPT_CONVERSATIONS}
    conversations = CONVERSATIONS + QWEN_CONVERSATIONS
    n = len(CONVERSATIONS)
    # 12 chat candidates: 5 of the shared conversations and the 7 coding ones
    chat = [0, 1, 2, 4, 9] + list(range(n, n + len(QWEN_CONVERSATIONS)))
    return {"corpus": TOKENIZE_CORPUS + QWEN_EXTRA_CORPUS, "conversations": conversations,
            "plain": QWEN_PLAIN_PROMPTS, "chat": chat}


def sample_ids(reference: np.ndarray, n_top: int, n_strided: int) -> list[int]:
    """The ids whose logits a "sample" fixture keeps: the reference's n_top highest, then every
    (n_vocab // n_strided)-th id, in that order and without repeats."""
    top = [int(t) for t in np.argsort(-reference, kind="stable")[:n_top]]
    step = max(1, len(reference) // n_strided)
    seen = set(top)
    return top + [i for i in range(0, len(reference), step) if i not in seen][:n_strided]


def full_stats(v: np.ndarray) -> dict:
    """Whole-vocabulary statistics of a logit vector, kept when only a sample of it is stored."""
    d = v.astype(np.float64)
    m = d.max()
    return {"max": float(m), "argmax": int(np.argmax(d)), "mean": float(d.mean()), "std": float(d.std()),
            "logsumexp": float(m + np.log(np.exp(d - m).sum()))}

# --------------------------------------------------------------------------
def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_f32_model(src: str, dst: str, n_threads: int) -> None:
    """Dequantize every tensor of the GGUF at src to F32 and write the result to dst."""
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = LLAMA_FTYPE_ALL_F32
    p.allow_requantize = True  # the source is already quantized
    p.nthread = n_threads
    with suppress_stdout_stderr(disable=False):  # llama.cpp logs one line per tensor
        rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize to F32 failed ({rc})")
    bad = [t.name for t in gguf.GGUFReader(dst).tensors if t.tensor_type != gguf.GGMLQuantizationType.F32]
    assert not bad, f"tensors not F32 after dequantization: {bad[:5]}"


def render_chat(template_src: str, messages: list[dict], bos: str, eos: str) -> dict:
    """Render with the GGUF's own Jinja template (HF-style environment) and a plain one."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    hf = env.from_string(template_src).render(
        messages=messages, add_generation_prompt=True, bos_token=bos, eos_token=eos)
    plain = jinja2.Environment().from_string(template_src).render(
        messages=messages, add_generation_prompt=True, bos_token=bos, eos_token=eos)
    no_gen = env.from_string(template_src).render(
        messages=messages, add_generation_prompt=False, bos_token=bos, eos_token=eos)
    return {"rendered": hf, "rendered_plain_jinja_env_equal": plain == hf,
            "rendered_without_generation_prompt": no_gen}


def builtin_chat_template(model_ptr, messages: list[dict]) -> str | None:
    """llama.cpp's built-in (non-Jinja) template for the GGUF's template, for information."""
    try:
        tmpl = llama_cpp.llama_model_chat_template(model_ptr, None)
        arr = (llama_cpp.llama_chat_message * len(messages))()
        keep = []
        for i, m in enumerate(messages):
            r, c = m["role"].encode(), m["content"].encode()
            keep += [r, c]
            arr[i].role = r
            arr[i].content = c
        buf = ctypes.create_string_buffer(1 << 16)
        n = llama_cpp.llama_chat_apply_template(tmpl, arr, len(messages), True, buf, len(buf))
        if n < 0:
            return None
        return buf.raw[:n].decode("utf-8")
    except Exception as e:  # API differences between versions
        print(f"note: builtin chat template unavailable: {e}", file=sys.stderr)
        return None


class Runner:
    """One model + one freshly created llama.cpp context in the given configuration."""

    def __init__(self, model_path: str, n_threads: int, config: dict):
        self.config = config
        self.llm = Llama(model_path=model_path, n_ctx=N_CTX, n_batch=N_BATCH, n_ubatch=N_UBATCH,
                         n_threads=n_threads, n_threads_batch=n_threads, seed=SEED,
                         logits_all=False, n_gpu_layers=0, verbose=False,
                         type_k=config["type_k"], type_v=config["type_v"],
                         flash_attn=config["flash_attn"])
        cp = self.llm.context_params
        assert (cp.type_k, cp.type_v) == (config["type_k"], config["type_v"]), "KV type not applied"
        want_fa = llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED if config["flash_attn"] \
            else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        assert cp.flash_attn_type == want_fa, "flash_attn not applied"
        self.vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self.n_vocab = self.llm.n_vocab()

    def close(self) -> None:
        self.llm.close()
        self.llm = None

    def tokenize(self, text: str, special: bool = True) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)

    def piece(self, tok: int, special: bool) -> bytes:
        return self.llm.detokenize([tok], special=special)

    def is_eog(self, tok: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, tok))

    def last_logits(self) -> np.ndarray:
        ptr = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).astype(np.float32).copy()

    def eval_prompt(self, ids: list[int]) -> np.ndarray:
        assert len(ids) <= N_BATCH, "prompt must fit in one batch"
        self.llm.reset()
        # empty KV cache: every prompt starts from a clean state
        mem = llama_cpp.llama_get_memory(self.llm.ctx)
        llama_cpp.llama_memory_clear(mem, True)
        self.llm.eval(ids)
        return self.last_logits()

    def greedy(self, ids: list[int], n: int) -> dict:
        logits = self.eval_prompt(ids)
        out, margins, stopped = [], [], False
        for _ in range(n):
            top2 = np.argsort(-logits, kind="stable")[:2]
            tok = int(np.argmax(logits))
            assert tok == int(top2[0])
            margins.append(float(logits[top2[0]] - logits[top2[1]]))
            if self.is_eog(tok):
                out.append(tok)
                stopped = True
                break
            out.append(tok)
            self.llm.eval([tok])
            logits = self.last_logits()
        return {"generated_ids": out, "stopped_at_eog": stopped, "top1_top2_margins": margins}


def hexlist(bs: list[bytes]) -> list[str]:
    return [b.hex() for b in bs]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", default="Tests/Fixtures")
    ap.add_argument("--threads", type=int, default=N_THREADS)
    ap.add_argument("--llama-cpp-commit", default=os.environ.get("LLAMA_CPP_COMMIT"),
                    help="vendored llama.cpp commit (informational, for meta.json)")
    ap.add_argument("--profile", choices=("auto", "smollm2", "qwen"), default="auto",
                    help="corpus and prompt lists: smollm2 (the original ones) or qwen (plus Qwen's special/FIM "
                         "tokens and code-heavy prompts); auto: from tokenizer.ggml.pre")
    ap.add_argument("--logits-format", choices=("auto", "full", "sample"), default="auto",
                    help="full: logits/<i>.f32 with every vocabulary entry; sample: only the reference's top "
                         f"{SAMPLE_TOP} ids and {SAMPLE_STRIDED} evenly spaced ids (in logits.json), plus whole-vocabulary "
                         "statistics; auto: full for smollm2, sample otherwise (a 152k vocabulary makes full files 0.6 MB each)")
    args = ap.parse_args()

    reader = gguf.GGUFReader(args.model)
    fields = reader.fields
    pre = fields["tokenizer.ggml.pre"].contents() if "tokenizer.ggml.pre" in fields else None
    profile = args.profile if args.profile != "auto" else ("qwen" if pre == "qwen2" else "smollm2")
    logits_format = args.logits_format if args.logits_format != "auto" else ("full" if profile == "smollm2" else "sample")
    lists = profile_lists(profile)
    print(f"profile {profile}, logits format {logits_format}")

    out_dir = os.path.join(args.out, args.name)
    os.makedirs(out_dir, exist_ok=True)
    if logits_format == "full":
        os.makedirs(os.path.join(out_dir, "logits"), exist_ok=True)
        os.makedirs(os.path.join(out_dir, "logits_f32"), exist_ok=True)
    gtokens = fields["tokenizer.ggml.tokens"].contents()
    template_src = fields["tokenizer.chat_template"].contents()
    bos_id = fields["tokenizer.ggml.bos_token_id"].contents() if "tokenizer.ggml.bos_token_id" in fields else None
    eos_id = fields["tokenizer.ggml.eos_token_id"].contents() if "tokenizer.ggml.eos_token_id" in fields else None
    bos_tok = gtokens[bos_id] if bos_id is not None else ""
    eos_tok = gtokens[eos_id] if eos_id is not None else ""

    r = Runner(args.model, args.threads, CONFIGS[0])
    llm = r.llm
    n_vocab = r.n_vocab
    eog_ids = [i for i in range(n_vocab) if r.is_eog(i)]
    attrs = {i: int(llama_cpp.llama_vocab_get_attr(r.vocab, i)) for i in range(n_vocab)}
    special_ids = {
        "bos": int(llama_cpp.llama_vocab_bos(r.vocab)),
        "eos": int(llama_cpp.llama_vocab_eos(r.vocab)),
        "eot": int(llama_cpp.llama_vocab_eot(r.vocab)),
        "nl": int(llama_cpp.llama_vocab_nl(r.vocab)),
        "pad": int(llama_cpp.llama_vocab_pad(r.vocab)),
        "fim_pre": int(llama_cpp.llama_vocab_fim_pre(r.vocab)),
        "fim_suf": int(llama_cpp.llama_vocab_fim_suf(r.vocab)),
        "fim_mid": int(llama_cpp.llama_vocab_fim_mid(r.vocab)),
        "fim_pad": int(llama_cpp.llama_vocab_fim_pad(r.vocab)),
        "fim_rep": int(llama_cpp.llama_vocab_fim_rep(r.vocab)),
        "fim_sep": int(llama_cpp.llama_vocab_fim_sep(r.vocab)),
        "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(r.vocab)),
        "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(r.vocab)),
    }
    model_desc = _model_desc(llm)
    print("EOG ids:", eog_ids, [gtokens[i] for i in eog_ids])
    print("special ids:", special_ids)

    # ---------------- tokenize.json ----------------
    cases = []
    for cat, text in lists["corpus"]:
        ids = r.tokenize(text, special=True)
        ids_nospecial = r.tokenize(text, special=False)
        case = {
            "category": cat,
            "text": text,
            "ids": ids,
            "pieces_hex": hexlist([r.piece(t, special=False) for t in ids]),
            "pieces_special_hex": hexlist([r.piece(t, special=True) for t in ids]),
            "detokenized_hex": llm.detokenize(ids, special=False).hex(),
            "detokenized_special_hex": llm.detokenize(ids, special=True).hex(),
        }
        if ids_nospecial != ids:
            case["ids_parse_special_false"] = ids_nospecial
        cases.append(case)
    tok_doc = {
        "generator": "scripts/make_llama_fixtures.py",
        "api": "llm.tokenize(text.encode('utf-8'), add_bos=False, special=True); "
               "pieces: llm.detokenize([id], special=False|True) as hex bytes",
        "tokenizer_model": fields["tokenizer.ggml.model"].contents(),
        "tokenizer_pre": fields["tokenizer.ggml.pre"].contents() if "tokenizer.ggml.pre" in fields else None,
        "n_vocab": n_vocab,
        "special_ids": special_ids,
        "eog_ids": eog_ids,
        "attr_bits": {nm: int(getattr(llama_cpp, f"LLAMA_TOKEN_ATTR_{nm}"))
                      for nm in ("UNDEFINED", "UNKNOWN", "UNUSED", "NORMAL", "CONTROL", "USER_DEFINED",
                                 "BYTE", "NORMALIZED", "LSTRIP", "RSTRIP", "SINGLE_WORD")},
        # every token whose llama.cpp attribute is not plain NORMAL (after llama.cpp's overrides)
        "non_normal_tokens": {str(i): {"text": gtokens[i], "attr": a} for i, a in attrs.items()
                              if a != int(llama_cpp.LLAMA_TOKEN_ATTR_NORMAL)},
        "cases": cases,
    }
    write_json(os.path.join(out_dir, "tokenize.json"), tok_doc)

    # ---------------- chat.json ----------------
    chats = []
    for msgs in lists["conversations"]:
        rend = render_chat(template_src, msgs, bos_tok, eos_tok)
        text = rend["rendered"]
        entry = {
            "messages": msgs,
            "add_generation_prompt": True,
            "rendered": text,
            "rendered_without_generation_prompt": rend["rendered_without_generation_prompt"],
            "token_ids": r.tokenize(text, special=True),
            "llama_cpp_builtin_template": builtin_chat_template(llm.model, msgs),
        }
        assert rend["rendered_plain_jinja_env_equal"], "template output depends on trim/lstrip_blocks"
        chats.append(entry)
    write_json(os.path.join(out_dir, "chat.json"), {
        "generator": "scripts/make_llama_fixtures.py",
        "renderer": "jinja2 ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True), "
                    "add_generation_prompt=True, bos_token/eos_token from the GGUF vocab",
        "jinja2_version": __import__("jinja2").__version__,
        "bos_token": bos_tok,
        "eos_token": eos_tok,
        "chat_template": template_src,
        "conversations": chats,
    })

    # ---------------- runs in every configuration ----------------
    gen_prompts = [("plain", p, None) for p in lists["plain"]]
    gen_prompts += [("chat", chats[i]["rendered"], i) for i in lists["chat"]]
    gen_prompts = [(kind, text, conv, r.tokenize(text, special=True)) for kind, text, conv in gen_prompts]
    lprompts = logits_prompts([c["rendered"] for c in chats])
    lprompts = [dict(p, ids=r.tokenize(p["text"], special=True)) for p in lprompts]
    eog_set = set(eog_ids)

    def run_config(runner: Runner) -> dict:
        """Greedy continuations and final logits of every prompt in one configuration."""
        gens_c = []
        for kind, text, conv, ids in gen_prompts:
            g = runner.greedy(ids, GEN_TOKENS)
            text_ids = [t for t in g["generated_ids"] if t not in eog_set]
            g["generated_text"] = runner.llm.detokenize(text_ids, special=False).decode("utf-8", errors="replace")
            g["generated_hex"] = runner.llm.detokenize(text_ids, special=False).hex()
            gens_c.append(g)
        logits_c = []
        for p in lprompts:
            lg = runner.eval_prompt(p["ids"])
            assert np.all(np.isfinite(lg))
            logits_c.append(lg)
        return {"gens": gens_c, "logits": logits_c}

    results: dict[str, dict] = {}
    f32_model_sha256 = None
    # the F32 copy of the model lives only in this temporary directory (~0.5 GB for 135M)
    with tempfile.TemporaryDirectory(prefix="llama_fixtures_f32_") as tmp_dir:
        f32_model = os.path.join(tmp_dir, "model-f32.gguf")
        for ci, cfg in enumerate(CONFIGS):
            if cfg["weights"] == "f32" and f32_model_sha256 is None:
                print(f"dequantizing {os.path.basename(args.model)} to F32 weights (temporary file)")
                make_f32_model(args.model, f32_model, args.threads)
                f32_model_sha256 = sha256_file(f32_model)
            model_path = f32_model if cfg["weights"] == "f32" else args.model
            runner = r if ci == 0 else Runner(model_path, args.threads, cfg)
            print(f"[config {cfg['name']}] {cfg['desc']}")
            results[cfg["name"]] = run_config(runner)
            runner.close()  # free model + context before the next configuration
            del runner
            r = llm = None  # the reference model and context are freed after the first pass
    ref_name = CONFIGS[0]["name"]
    variant_names = [c["name"] for c in CONFIGS[1:]]

    # ---------------- generate.json ----------------
    gens = []
    for pi, (kind, text, conv, ids) in enumerate(gen_prompts):
        g = results[ref_name]["gens"][pi]
        gen_ids = g["generated_ids"]

        def same(o):
            return o["generated_ids"] == gen_ids and o["stopped_at_eog"] == g["stopped_at_eog"]

        stable = all(same(results[v]["gens"][pi]) for v in variant_names)
        # leading tokens on which all configurations agree
        seqs = [results[c["name"]]["gens"][pi]["generated_ids"] for c in CONFIGS]
        agree = 0
        while all(len(q) > agree for q in seqs) and len({q[agree] for q in seqs}) == 1:
            agree += 1
        entry = {
            "kind": kind,
            "conversation": conv,
            "prompt": text,
            "prompt_ids": ids,
            "max_new_tokens": GEN_TOKENS,
            "generated_ids": gen_ids,
            "generated_text": g["generated_text"],
            "generated_hex": g["generated_hex"],
            "stopped_at_eog": g["stopped_at_eog"],
            "stable": stable,
            "common_prefix_len": agree,
            "min_top1_top2_margin": min(g["top1_top2_margins"]) if g["top1_top2_margins"] else None,
            "top1_top2_margins": [round(m, 5) for m in g["top1_top2_margins"]],
        }
        f = results["f32_weights"]["gens"][pi]
        # always stored in full: exact float32 arithmetic, what a float32 runtime can reproduce
        entry["f32_weights"] = {
            "generated_ids": f["generated_ids"],
            "stopped_at_eog": f["stopped_at_eog"],
            "generated_text": f["generated_text"],
        }
        if not stable:
            entry["variants"] = {}
            for v in variant_names:
                o = results[v]["gens"][pi]
                if not same(o):
                    entry["variants"][v] = {
                        "generated_ids": o["generated_ids"],
                        "generated_text": o["generated_text"],
                        "stopped_at_eog": o["stopped_at_eog"],
                    }
        print(f"[gen {kind}] {len(ids)} prompt tokens -> {len(gen_ids)} tokens, eog={g['stopped_at_eog']}, "
              f"stable={stable} (agree {agree}), min margin {entry['min_top1_top2_margin']:.4f}: "
              f"{entry['generated_text']!r}")
        gens.append(entry)
    n_stable = {k: sum(1 for e in gens if e["kind"] == k and e["stable"]) for k in ("plain", "chat")}
    n_total = {k: sum(1 for e in gens if e["kind"] == k) for k in ("plain", "chat")}
    print(f"stable prompts: {sum(n_stable.values())}/{len(gens)} "
          f"(plain {n_stable['plain']}/{n_total['plain']}, chat {n_stable['chat']}/{n_total['chat']})")
    if sum(n_stable.values()) < 8 or min(n_stable.values()) < 3:
        print("WARNING: fewer than 8 stable prompts or fewer than 3 of a kind; add candidates", file=sys.stderr)
    write_json(os.path.join(out_dir, "generate.json"), {
        "generator": "scripts/make_llama_fixtures.py",
        "sampling": "pure greedy: argmax of the last-position logits (lowest id on ties); "
                    "stop after emitting an end-of-generation token (included in generated_ids)",
        "decode": "prompt evaluated as one llama_decode batch, then one token per llama_decode",
        "reference_config": ref_name,
        "configs": [{k: c[k] for k in CONFIG_KEYS} for c in CONFIGS],
        "stable_criterion": "stable = all four configurations in configs (fresh context each, same "
                            "threads; f32_weights on the model dequantized to F32) produce exactly the "
                            "same generated_ids, including where it stops. "
                            "generated_ids/text/margins are the reference configuration's; "
                            "variants holds the sequences of the configurations that differ; "
                            "common_prefix_len counts the leading tokens all four configurations agree "
                            "on; f32_weights always holds the f32_weights configuration's own "
                            "continuation (generated_ids, stopped_at_eog, generated_text), also "
                            "where it equals the reference. Only stable prompts are a property of the model rather than of "
                            "llama.cpp's rounding (f32_weights being exact float32 arithmetic).",
        "n_stable": n_stable,
        "eog_ids": eog_ids,
        "prompts": gens,
    })

    # ---------------- logits ----------------
    def top_ids(v: np.ndarray, k: int) -> list[int]:
        return [int(t) for t in np.argsort(-v, kind="stable")[:k]]

    lentries = []
    summary = {v: {"max_abs_diff": 0.0, "rms_diff": 0.0} for v in variant_names}
    for i, p in enumerate(lprompts):
        ids = p["ids"]
        lg = results[ref_name]["logits"][i]
        lg32 = results["f32_weights"]["logits"][i]
        if logits_format == "full":
            fn = f"logits/{i}.f32"
            lg.astype("<f4").tofile(os.path.join(out_dir, fn))
            fn32 = f"logits_f32/{i}.f32"
            lg32.astype("<f4").tofile(os.path.join(out_dir, fn32))
            stored = {"file": fn, "file_f32_weights": fn32}
        else:
            sids = sample_ids(lg, SAMPLE_TOP, SAMPLE_STRIDED)
            # float32 values written as the float64 numbers they are (exact in JSON)
            stored = {"sample_ids": sids,
                      "sample_logits": [float(lg[t]) for t in sids],
                      "sample_logits_f32_weights": [float(lg32[t]) for t in sids],
                      "stats": full_stats(lg), "stats_f32_weights": full_stats(lg32)}
        top = top_ids(lg, 10)
        max_d, rms_d = {}, {}
        top1_ok, top10_ok = True, True
        for v in variant_names:
            vl = results[v]["logits"][i]
            d = vl.astype(np.float64) - lg.astype(np.float64)
            max_d[v] = float(np.abs(d).max())
            rms_d[v] = float(np.sqrt(np.mean(d * d)))
            summary[v]["max_abs_diff"] = max(summary[v]["max_abs_diff"], max_d[v])
            summary[v]["rms_diff"] = max(summary[v]["rms_diff"], rms_d[v])
            vt = top_ids(vl, 10)
            top1_ok &= vt[0] == top[0]
            top10_ok &= set(vt) == set(top)
        lentries.append({
            "index": i, "label": p["label"], "prompt": p["text"], "token_ids": ids,
            "n_tokens": len(ids), **stored, "n_vocab": n_vocab,
            "top5_ids": top[:5], "top5_logits": [float(lg[t]) for t in top[:5]],
            "top10_ids": top, "top10_logits": [float(lg[t]) for t in top],
            "mean": float(lg.astype(np.float64).mean()), "std": float(lg.astype(np.float64).std()),
            "variant_max_abs_diff": max_d,
            "variant_rms_diff": rms_d,
            "top1_stable": bool(top1_ok),
            "top10_stable": bool(top10_ok),
        })
        print(f"[logits {p['label']}] {len(ids)} tokens, top1={top[0]} {gtokens[top[0]]!r}, "
              + ", ".join(f"{v}: max {max_d[v]:.4f} rms {rms_d[v]:.4f}" for v in variant_names)
              + f", top1_stable={top1_ok} top10_stable={top10_ok}")
    write_json(os.path.join(out_dir, "logits.json"), {
        "generator": "scripts/make_llama_fixtures.py",
        "format": ("raw little-endian float32, n_vocab values: logits of the final prompt position "
                   "(whole prompt in one llama_decode batch, fresh KV cache); file: reference "
                   "configuration, file_f32_weights: f32_weights configuration") if logits_format == "full" else
                  ("logits of the final prompt position (whole prompt in one llama_decode batch, fresh KV "
                   f"cache) at sample_ids only: the reference's {SAMPLE_TOP} highest ids, then every "
                   f"(n_vocab // {SAMPLE_STRIDED})-th id; sample_logits: reference configuration, "
                   "sample_logits_f32_weights: f32_weights configuration; stats / stats_f32_weights: max, "
                   "argmax, mean, std and logsumexp over the whole vocabulary (float64)"),
        "logits_format": logits_format,
        "n_batch": N_BATCH, "n_ubatch": N_UBATCH,
        "reference_config": ref_name,
        "configs": [{k: c[k] for k in CONFIG_KEYS} for c in CONFIGS],
        "variant_stats": "variant_max_abs_diff / variant_rms_diff: max |d| and sqrt(mean d^2) of "
                         "d = variant logits - reference logits over the whole vocabulary; "
                         "top1_stable: the argmax is the same in all four configurations; "
                         "top10_stable: the set of the 10 highest ids is the same in all four "
                         "configurations",
        "variant_summary": summary,
        "prompts": lentries,
    })

    # ---------------- meta.json ----------------
    try:
        sysinfo = llama_cpp.llama_print_system_info().decode()
    except Exception:
        sysinfo = None
    write_json(os.path.join(out_dir, "meta.json"), {
        "generator": "scripts/make_llama_fixtures.py",
        "llama_cpp_python_version": llama_cpp.__version__,
        "llama_cpp_commit": args.llama_cpp_commit,
        "llama_cpp_system_info": sysinfo,
        "gguf_py_version": _pkg_version("gguf"),
        "numpy_version": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "model_file": os.path.basename(args.model),
        "profile": profile,
        "logits_format": logits_format,
        "model_sha256": sha256_file(args.model),
        "model_desc": model_desc,
        "f32_weights_model": {
            "made_with": "llama_model_quantize(ftype=LLAMA_FTYPE_ALL_F32, allow_requantize=True) into a "
                         "temporary file, deleted after the run; every tensor F32",
            "sha256": f32_model_sha256,
        },
        "n_threads": args.threads,
        "n_ctx": N_CTX, "n_batch": N_BATCH, "n_ubatch": N_UBATCH,
        "seed": SEED, "logits_all": False, "flash_attn": False, "n_gpu_layers": 0,
        "reference_config": ref_name,
        "configs": [{k: c[k] for k in CONFIG_KEYS} for c in CONFIGS],
        "ggml_type_ids": {"F32": GGML_TYPE_F32, "F16": GGML_TYPE_F16},
        "variant_summary": {
            "logits_max_abs_diff": {v: summary[v]["max_abs_diff"] for v in variant_names},
            "logits_max_rms_diff": {v: summary[v]["rms_diff"] for v in variant_names},
            "logits_prompts": len(lentries),
            "logits_top1_stable": sum(e["top1_stable"] for e in lentries),
            "logits_top10_stable": sum(e["top10_stable"] for e in lentries),
            "generate_prompts": n_total,
            "generate_stable": n_stable,
        },
        "eog_ids": eog_ids,
        "special_ids": special_ids,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    })

    total = 0
    for root, _, files in os.walk(out_dir):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print(f"wrote fixtures to {out_dir} ({total} bytes)")
    return 0


def _model_desc(llm) -> str | None:
    try:
        buf = ctypes.create_string_buffer(256)
        llama_cpp.llama_model_desc(llm.model, buf, 256)
        return buf.value.decode()
    except Exception:
        return None


def _pkg_version(name: str):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return None


def write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


if __name__ == "__main__":
    sys.exit(main())
