"""Declared datasets: every name a recipe or ``trl-reason eval`` may use for a training set or a benchmark, with the
file it is looked for under in a data directory and, where one exists, its Hugging Face Hub source.

``data.sources.resolve`` turns a name into a place (a data directory's file first, then the declared Hub source);
``evaluation.benchmarks`` adds each benchmark's protocol and subsets on top of these entries.

Bump an entry's ``version`` whenever its rows or their normalization change, so results never mix two definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class HubSource:
    """Where a dataset lives on the Hugging Face Hub, and how its columns map onto ``problem``/``answer``."""

    repo: str
    split: str
    revision: str | None = None  # None: the default branch; the commit actually used is recorded by benchmarks
    config: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # hub column -> our column
    answer_after: str | None = None  # keep the text after this marker (GSM8K's "#### 18")


@dataclass(frozen=True)
class DeclaredDataset:
    name: str
    version: str
    file: str  # file name inside a data directory (the same stem with another known suffix is found too)
    hub: HubSource | None = None
    description: str = ""
    benchmark: bool = False  # evaluation.benchmarks declares a protocol for it


MATH_BEYOND_HUB = HubSource(
    repo="brendel-group/MATH-Beyond",
    split="test",
    # The commit that uploaded test.csv and test.parquet (181 rows).
    revision="eefd08212dcd2a4e6f500dcaffbccad33e29d40b",
)

_ONE_SHOT = "One-Shot-RLVR (Wang et al. 2025, docs/papers/one_shot.md); not on the Hub: put the file in a data dir"

DATASETS: dict[str, DeclaredDataset] = {
    d.name: d
    for d in (
        DeclaredDataset("math500", "1", "math500.jsonl",
                        HubSource("HuggingFaceH4/MATH-500", "test", columns={"unique_id": "id"}),
                        "MATH-500 (Lightman et al. 2023 split of Hendrycks MATH), 500 problems", benchmark=True),
        DeclaredDataset("aime24", "1", "aime24.jsonl", HubSource("HuggingFaceH4/aime_2024", "train"),
                        "AIME 2024 I and II, 30 problems, integer answers", benchmark=True),
        DeclaredDataset("aime25", "1", "aime25.jsonl", None, "AIME 2025 I and II, 30 problems", benchmark=True),
        DeclaredDataset("amc23", "1", "amc23.jsonl", None, "AMC 12 2023 A and B, 40 problems (AIMO rewrite)",
                        benchmark=True),
        DeclaredDataset("minerva_math", "1", "minerva_math.jsonl", None, "Minerva OCW courses, 272 problems",
                        benchmark=True),
        DeclaredDataset("olympiadbench", "1", "olympiadbench.jsonl", None,
                        "OlympiadBench OE_TO_maths_en_COMP, 675 problems", benchmark=True),
        DeclaredDataset("gsm8k", "1", "gsm8k_test.jsonl",
                        HubSource("openai/gsm8k", "test", config="main", columns={"question": "problem"},
                                  answer_after="####"),
                        "GSM8K test, 1319 problems, integer answers", benchmark=True),
        DeclaredDataset("math_beyond", "1", "math_beyond.jsonl", MATH_BEYOND_HUB,
                        "MATH-Beyond (Mayilvahanan et al. 2025), 181 problems unsolved by at least one base model",
                        benchmark=True),
        DeclaredDataset("amc_aimo83", "1", "amc_aimo83.jsonl", None, "AIMO validation set of AMC problems, 83 problems"),
        DeclaredDataset("dsr_sub", "1", "dsr_sub.jsonl", None, f"DeepScaleR subset, 1209 problems; {_ONE_SHOT}"),
        DeclaredDataset("pi1", "1", "pi1.jsonl", None, f"one example (DSR-sub index 124); {_ONE_SHOT}"),
        DeclaredDataset("pi2", "1", "pi2.jsonl", None, f"one example (DSR-sub index 267); {_ONE_SHOT}"),
        DeclaredDataset("pi13", "1", "pi13.jsonl", None, f"one example (DSR-sub index 682); {_ONE_SHOT}"),
        DeclaredDataset("pi1209", "1", "pi1209.jsonl", None, f"one example (DSR-sub index 789); {_ONE_SHOT}"),
    )
}


def declared(name: str) -> DeclaredDataset | None:
    return DATASETS.get(name)
