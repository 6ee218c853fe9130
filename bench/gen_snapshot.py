"""Write N synthetic papers in the arXiv metadata snapshot's JSON-lines format, deterministically.

The format is Kaggle's ``arxiv-metadata-oai-snapshot.json``: one JSON object per line with
``id, submitter, authors, title, comments, journal-ref, doi, report-no, categories, license,
abstract, versions [{version, created}], update_date, authors_parsed``. Titles are built from
a vocabulary of real machine-learning words, with a Zipf-like skew (a few words are common,
most are rare), so title search meets both selective and unselective words as it would on
arXiv. The same ``seed`` and ``n`` always give the same bytes.

Usage: ``python bench/gen_snapshot.py OUT.jsonl [--papers N] [--seed S]``
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path


def _words(text: str) -> list[str]:
    return text.split()


ADJECTIVES = _words("""
deep neural convolutional recurrent generative adversarial variational bayesian stochastic
robust efficient scalable sparse hierarchical contrastive self-supervised semi-supervised
unsupervised supervised federated differentiable probabilistic causal graph-based
attention-based transformer-based multimodal multilingual few-shot zero-shot meta continual
online offline distributed decentralized interpretable explainable fair private secure
adaptive dynamic latent implicit explicit invertible equivariant invariant geometric
spectral temporal spatial spatio-temporal low-rank quantized pruned lightweight fast
accurate unified universal general simple provable optimal nonconvex convex kernel linear
nonlinear residual dense recursive autoregressive diffusion score-based energy-based
neuro-symbolic hybrid end-to-end large-scale pretrained fine-grained coarse-to-fine
""")

NOUNS = _words("""
networks models learning representations embeddings transformers autoencoders policies
agents classifiers detectors generators discriminators optimizers gradients kernels
attention memory graphs trees ensembles priors posteriors estimators features tokens
language vision speech images videos point-clouds molecules proteins text code
reinforcement-learning inference optimization regularization normalization distillation
compression quantization pruning augmentation retrieval generation translation
segmentation detection tracking recognition reasoning planning control exploration
calibration uncertainty robustness generalization alignment interpretability fairness
privacy adaptation transfer pretraining fine-tuning prompting decoding sampling search
clustering ranking recommendation forecasting anomaly-detection denoising super-resolution
""")

TASKS = """
image classification|object detection|semantic segmentation|machine translation|
question answering|speech recognition|text summarization|graph classification|
link prediction|node classification|molecular property prediction|protein folding|
time series forecasting|anomaly detection|recommender systems|autonomous driving|
robotic manipulation|visual navigation|code generation|program synthesis|
named entity recognition|sentiment analysis|image generation|video understanding|
medical imaging|drug discovery|weather prediction|continual learning|domain adaptation|
neural architecture search|hyperparameter optimization|active learning|causal discovery|
language modeling|dialogue systems|information retrieval|knowledge graphs|
3D reconstruction|pose estimation|style transfer|image captioning|visual question answering|
multi-agent systems|game playing|combinatorial optimization|partial differential equations|
symbolic regression|tabular data|federated learning|differential privacy|adversarial attacks
""".replace("\n", "").split("|")

TEMPLATES = (
    "{A} {N} for {T}",
    "{A} {A} {N}",
    "On the {N} of {A} {N}",
    "Towards {A} {N} via {A} {N}",
    "{A} {N}: {A} {N} for {T}",
    "Learning {A} {N} with {A} {N}",
    "Rethinking {N} in {T}",
    "{A} {N} Meets {A} {N}",
    "Improving {T} with {A} {N}",
    "A {A} Approach to {T}",
    "When Do {A} {N} Help {T}?",
    "{A} and {A} {N} for {T} and {T}",
)

CATEGORIES = _words(
    "cs.LG cs.CV cs.CL cs.AI stat.ML cs.NE cs.RO cs.IR cs.CR math.OC eess.IV eess.AS "
    "q-bio.QM physics.comp-ph cs.DS cs.SI"
)

FIRST = _words("""
Ada Alan Grace Yoshua Geoffrey Yann Fei-Fei Andrew Daphne Michael Jürgen Sepp Ilya
Oriol Ian Kaiming Ross Piotr Jitendra Trevor Pieter Sergey Chelsea Percy Christopher Dan
Emily Timnit Joelle Hugo Aaron Alex Diederik Max Zoubin Radford Carl Bernhard Léon Corinna
Vladimir Tom Jeff Sanjay Noam Ashish Niki Jakob Llion Aidan Łukasz Illia Quoc Barret Mingxing
Xiangyu Shaoqing Jian Ming-Wei Kenton Kristina Jacob Tomas Kai Greg Mikhail Anima Sanja
""")

LAST = _words("""
Lovelace Turing Hopper Bengio Hinton LeCun Li Ng Koller Jordan Schmidhuber Hochreiter
Sutskever Vinyals Goodfellow He Girshick Dollár Malik Darrell Abbeel Levine Finn Liang
Manning Jurafsky Bender Gebru Pineau Larochelle Courville Krizhevsky Kingma Welling
Ghahramani Neal Rasmussen Schölkopf Bottou Cortes Vapnik Mitchell Dean Ghemawat Shazeer
Vaswani Parmar Uszkoreit Jones Gomez Kaiser Polosukhin Le Zoph Tan Zhang Ren Sun Chang Lee
Toutanova Devlin Mikolov Chen Corrado Belkin Anandkumar Fidler Nguyen García Müller Novák
""")

FILLER = _words("""
we propose a novel method that the results show our approach outperforms prior work
on several benchmarks in addition experiments demonstrate state-of-the-art performance while
reducing computational cost furthermore theoretical analysis provides guarantees under mild
assumptions code and data are publicly available this paper studies the problem of
""")

JOURNALS = (
    "Phys.Rev.D{v}:{p},{y}",
    "J. Mach. Learn. Res. {v} ({y}) {p}-{q}",
    "Neural Computation {v}, {p}-{q} ({y})",
    "IEEE Trans. Pattern Anal. Mach. Intell. {v} ({y}) {p}",
    "Proceedings of NeurIPS {y}",
    "ICML {y}",
)

LICENSES = (
    None,
    "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
    "http://creativecommons.org/licenses/by/4.0/",
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _zipf_weights(n: int, s: float = 0.9) -> list[float]:
    return [1.0 / (rank**s) for rank in range(1, n + 1)]


def rfc2822(moment: datetime) -> str:
    """A date as arXiv's snapshot writes it: ``Mon, 2 Apr 2007 19:18:42 GMT``."""
    return (
        f"{WEEKDAYS[moment.weekday()]}, {moment.day} {MONTHS[moment.month - 1]} "
        f"{moment.year} {moment:%H:%M:%S} GMT"
    )


def _months() -> list[tuple[int, int]]:
    """(year, month) from January 2015 on: five-digit new-style ids."""
    return [(year, month) for year in range(2015, 2025) for month in range(1, 13)]


class SnapshotGenerator:
    """Makes one synthetic snapshot record after another; deterministic for a seed."""

    def __init__(self, n: int, seed: int = 20_240_101) -> None:
        self.n = n
        self.rng = random.Random(seed)
        rng = self.rng
        self._adjectives = rng.sample(ADJECTIVES, len(ADJECTIVES))  # which words are common
        self._nouns = rng.sample(NOUNS, len(NOUNS))
        self._adj_w = list(itertools.accumulate(_zipf_weights(len(ADJECTIVES))))
        self._noun_w = list(itertools.accumulate(_zipf_weights(len(NOUNS))))
        self._sentences = [self._sentence() for _ in range(3000)]
        self._months = _months()
        self._per_month = -(-n // len(self._months))  # ceiling: at most 99,999 a month
        if self._per_month > 99_999:
            raise ValueError(f"at most {99_999 * len(self._months):,} papers")

    def _adj(self) -> str:
        return self.rng.choices(self._adjectives, cum_weights=self._adj_w)[0]

    def _noun(self) -> str:
        return self.rng.choices(self._nouns, cum_weights=self._noun_w)[0]

    def _sentence(self) -> str:
        rng = self.rng
        words = rng.choices(FILLER, k=rng.randint(6, 12))
        words.insert(rng.randrange(len(words)), self._adj() + " " + self._noun())
        words.insert(rng.randrange(len(words)), rng.choice(TASKS).lower())
        return " ".join(words).capitalize() + "."

    def title(self) -> str:
        """A title from a template, capitalized as arXiv titles usually are."""
        template = self.rng.choice(TEMPLATES)
        out = []
        for part in template.split("{"):
            if not part:
                continue
            if "}" in part:
                key, rest = part.split("}", 1)
                word = {"A": self._adj, "N": self._noun}.get(key, lambda: self.rng.choice(TASKS))()
                out.append(word.replace("-", " ", 1) if key == "N" else word)
                out.append(rest)
            else:
                out.append(part)
        text = "".join(out)
        return " ".join(w[:1].upper() + w[1:] if len(w) > 3 else w for w in text.split())

    def record(self, index: int) -> dict[str, object]:
        """The `index`-th paper (0-based) as a snapshot object."""
        rng = self.rng
        year, month = self._months[index // self._per_month]
        number = index % self._per_month + 1
        arxiv_id = f"{year % 100:02d}{month:02d}.{number:05d}"
        created = datetime(year, month, 1, tzinfo=UTC) + timedelta(
            seconds=rng.randrange(27 * 86400)
        )
        versions = [{"version": "v1", "created": rfc2822(created)}]
        for v in range(2, 2 + rng.choices((0, 1, 2), (6, 3, 1))[0]):
            created += timedelta(days=rng.randint(1, 200), seconds=rng.randrange(86400))
            versions.append({"version": f"v{v}", "created": rfc2822(created)})
        people = [(rng.choice(FIRST), rng.choice(LAST)) for _ in range(rng.randint(1, 8))]
        authors_parsed = [[last, first, ""] for first, last in people]
        if len(people) > 1:
            authors = ", ".join(f"{f} {last}" for f, last in people[:-1])
            authors += f" and {people[-1][0]} {people[-1][1]}"
        else:
            authors = f"{people[0][0]} {people[0][1]}"
        title = self.title()
        if len(title) > 60 and rng.random() < 0.5:  # the snapshot keeps arXiv's line folding
            cut = title.rfind(" ", 0, 60)
            title = title[:cut] + "\n  " + title[cut + 1 :]
        published = rng.random() < 0.3
        journal = None
        doi = None
        if published:
            journal = rng.choice(JOURNALS).format(
                v=rng.randint(1, 120), p=rng.randint(1, 9999), q=rng.randint(1, 9999), y=year
            )
            doi = f"10.{rng.randint(1000, 9999)}/J.{arxiv_id}.{index}"
        cats = rng.sample(CATEGORIES, rng.randint(1, 3))
        abstract = " ".join(rng.sample(self._sentences, rng.randint(4, 8)))
        updated = datetime.strptime(versions[-1]["created"][5:-4], "%d %b %Y %H:%M:%S")
        return {
            "id": arxiv_id,
            "submitter": f"{people[0][0]} {people[0][1]}",
            "authors": authors,
            "title": title,
            "comments": f"{rng.randint(4, 40)} pages, {rng.randint(1, 15)} figures"
            if rng.random() < 0.7
            else None,
            "journal-ref": journal,
            "doi": doi,
            "report-no": None,
            "categories": " ".join(cats),
            "license": rng.choice(LICENSES),
            "abstract": "  " + abstract + "\n",
            "versions": versions,
            "update_date": f"{updated:%Y-%m-%d}",
            "authors_parsed": authors_parsed,
        }

    def lines(self) -> Iterator[str]:
        """Every record as one JSON line (with its newline)."""
        for index in range(self.n):
            yield json.dumps(self.record(index), ensure_ascii=False) + "\n"


def write_snapshot(path: Path, n: int, seed: int = 20_240_101) -> Path:
    """Write `n` papers to `path` (atomically: a partial file is never left under that name)."""
    partial = path.with_suffix(path.suffix + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    with partial.open("w", encoding="utf-8") as out:
        out.writelines(SnapshotGenerator(n, seed).lines())
    partial.replace(path)
    return path


def cached_snapshot(n: int, cache: Path, seed: int = 20_240_101) -> Path:
    """The snapshot of `n` papers under `cache`, generated on first use."""
    path = cache / f"snapshot-{n}-{seed}.jsonl"
    if not path.exists():
        write_snapshot(path, n, seed)
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: write a snapshot file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--papers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20_240_101)
    args = parser.parse_args(argv)
    write_snapshot(args.out, args.papers, args.seed)
    print(f"wrote {args.papers:,} papers to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
