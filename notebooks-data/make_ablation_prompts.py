#!/usr/bin/env python3
"""Writes the prompts of the ablation study (notebooks-data/ablation/MODEL/summary.csv) as text files:

  - six needle-in-a-haystack contexts from the Paul Graham essays (.cache/corpus/PaulGrahamEssays), each with
    its own needle inserted at a sentence boundary at depth d of a context of about L tokens (L 1024, 1536,
    2048; the prompt after the chat template), the question at the end (query-aware);
  - three ordinary instructions of a few hundred tokens (a summary, a small program, a question over a list).

Beside each needle prompt NAME.txt it writes NAME.needle: the needle's value (the words the answer must copy),
which occurs exactly once in the prompt; ablation_run.sh passes it to `dapq-probe capture --needle`, so the
capture's prompt/answer_span marks those tokens.

The haystack is fitted to L with the model's own tokenizer (`dapq-probe tokenize --model MODEL`), so the
capture's n is within a few tokens of L (the chat template's share is estimated, CHAT_OVERHEAD). Deterministic:
the same corpus and model give the same files.

usage: make_ablation_prompts.py --out DIR [--model smollm2-135m] [--binary .build/release/dapq-probe]
                                [--corpus .cache/corpus/PaulGrahamEssays]
"""
import argparse
import json
import os
import re
import subprocess

# (needle, question, value: the part of the needle that answers the question)
NEEDLES = [
    ("The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.",
     "What is the best thing to do in San Francisco?", "eat a sandwich and sit in Dolores Park on a sunny day"),
    ("The secret ingredient in Grandma Rosa's lasagna is a spoonful of cinnamon.",
     "What is the secret ingredient in Grandma Rosa's lasagna?", "a spoonful of cinnamon"),
    ("The special magic number for the blue lighthouse is 4721.",
     "What is the special magic number for the blue lighthouse?", "4721"),
    ("The password to the old library archive is silver otter.",
     "What is the password to the old library archive?", "silver otter"),
    ("Marta's favourite instrument is the cello, which she learned in Vienna.",
     "What is Marta's favourite instrument?", "the cello"),
    ("The annual kite festival in Brighton is held on the second Sunday of June.",
     "When is the annual kite festival in Brighton held?", "the second Sunday of June"),
]
# (context length L in tokens, needle depth d, first essay index): one per needle.
GRID = [(1024, 0.1, 0), (1024, 0.6, 7), (1536, 0.3, 14), (1536, 0.9, 21), (2048, 0.5, 28), (2048, 0.2, 35)]
# tokens the chat template adds around the user message (its default system prompt and the roles)
CHAT_OVERHEAD = {"smollm2-135m": 30, "qwen2.5-coder-0.5b": 30, "qwen2.5-coder-1.5b": 30}

INSTRUCTIONS = [
    "Summarize the following paragraph in two sentences.\n\n{paragraph}",
    "Write a Python function `merge_intervals(intervals)` that takes a list of (start, end) pairs of integers, "
    "merges every pair of intervals that overlap or touch, and returns the merged intervals sorted by start. "
    "Intervals are closed, so (1, 3) and (3, 5) merge into (1, 5). An empty list returns an empty list. Include "
    "a docstring, handle unsorted input, do not modify the argument, and add three short doctest examples that "
    "cover overlapping, touching and disjoint intervals. Then explain the time complexity in one sentence.",
    "Here is my shopping list for the week: apples, carrots, olive oil, spinach, rice, chicken thighs, broccoli, "
    "lemons, greek yoghurt, red onions, oat milk, bell peppers, dark chocolate, garlic, lentils, bananas, "
    "cucumbers, parmesan, sweet potatoes, coffee beans, tomatoes, frozen peas, whole wheat bread, and basil. "
    "I want to cook three dinners that each use at least two of the vegetables on the list and no meat except "
    "the chicken. Which items on the list are vegetables? Then suggest the three dinners, one line each.",
]


def sentences(text):
    text = re.sub(r"\s+", " ", text).strip()
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def count_tokens(binary, model, text):
    out = subprocess.run([binary, "tokenize", "--model", model, "--json", "--text", text],
                         check=True, capture_output=True, text=True).stdout
    return len(json.loads(out))


def haystack_sentences(corpus, first):
    names = sorted(n for n in os.listdir(corpus) if n.endswith(".txt"))
    order = names[first:] + names[:first]
    for name in order:
        with open(os.path.join(corpus, name), encoding="utf-8") as f:
            yield from sentences(f.read())


def build(corpus, binary, model, length, depth, first, needle, question):
    tail = f"\n\nQuestion: {question} Answer in one short sentence, using only the document above."
    target = length - CHAT_OVERHEAD.get(model, 30)
    source = list(zip(range(4000), haystack_sentences(corpus, first)))
    count = max(10, int(target * 3.8 / 25))   # sentences of ~25 tokens: a first guess
    for _ in range(12):
        hay = [s for _, s in source[:count]]
        at = round(depth * len(hay))
        text = " ".join(hay[:at] + [needle] + hay[at:]) + tail
        tokens = count_tokens(binary, model, text)
        if tokens > target:
            count -= max(1, (tokens - target) // 25 + 1)
        elif target - tokens > 30:
            count += max(1, (target - tokens) // 30)
        else:
            return text, tokens
    return text, tokens


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--binary", default=".build/release/dapq-probe")
    parser.add_argument("--model", default="smollm2-135m", help="catalogue name or GGUF path (its tokenizer fits L)")
    parser.add_argument("--corpus", default=".cache/corpus/PaulGrahamEssays")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for i, ((needle, question, value), (length, depth, first)) in enumerate(zip(NEEDLES, GRID)):
        text, tokens = build(args.corpus, args.binary, args.model, length, depth, first, needle, question)
        if text.count(value) != 1:
            raise SystemExit(f"needle {i + 1}: its value {value!r} occurs {text.count(value)} times in the prompt, not once")
        stem = f"niah{i + 1}_L{length}_d{int(depth * 100):02d}"
        name = stem + ".txt"
        with open(os.path.join(args.out, name), "w", encoding="utf-8") as f:
            f.write(text)
        with open(os.path.join(args.out, stem + ".needle"), "w", encoding="utf-8") as f:
            f.write(value)
        print(f"{name}: {tokens} tokens before the chat template")
    paragraph = " ".join(list(haystack_sentences(args.corpus, 3))[:14])
    for i, template in enumerate(INSTRUCTIONS):
        name = f"instruction{i + 1}.txt"
        text = template.format(paragraph=paragraph)
        with open(os.path.join(args.out, name), "w", encoding="utf-8") as f:
            f.write(text)
        print(f"{name}: {count_tokens(args.binary, args.model, text)} tokens before the chat template")


if __name__ == "__main__":
    main()
