"""The ``one_shot`` plugin: 1-shot RLVR (Wang et al., "Reinforcement Learning for Reasoning in Large Language Models
with One Training Example", arXiv 2504.20571).

Three things, each usable alone:

1. **Accuracy record** (any run that names the plugin): every rollout's ``correct`` flag is counted by the core's
   per-prompt record (``trainer.records``, one pass rate per prompt and round); the plugin notes the epoch of each
   step and folds the rounds into each example's accuracy per epoch, keyed by ``prompt_id``. It is checkpointed
   and written to ``<output_dir>/one_shot_hist_acc.jsonl`` (one row per example with ``hist_acc``) at every
   checkpoint and when the run ends.
2. **Ranking**: ``trl-reason one-shot rank SOURCE --top K`` prints the pi list (one index a line) from such a file,
   a run directory, or any file with a ``hist_acc`` column (DSR-sub).
3. **One-example training set**: ``examples: [124]`` (values of ``index_column``) trains only on those rows, each
   copied ``replicate`` times per epoch, every copy its own GRPO group (``train_sampler``; see ``sampler.py``).
   ``data.train: pi1`` with the plugin and no ``examples`` replicates the file's single row by its ``train_repeat``
   column (128), as the authors' ``pi1_r128.parquet``.

Recipe::

    data: {train: dsr_sub}                       # or pi1 / pi13
    rewards: [{name: correctness}]
    trainer: {entropy_coef: 0.001, beta: 0.001, ...}
    plugins:
      one_shot: {examples: [124], replicate: 128}

Entropy-only training needs no plugin code: ``trainer.pg_loss_coef: 0`` (core) zeroes the advantages after rewards
are recorded and keeps TRL's entropy bonus and KL term.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from trl_reasoning import Composition, ConfigError, hookimpl

from .ranking import HIST_ACC_FILE, historical_std, load_hist_acc_rows, rank_examples
from .record import AccuracyRecord

logger = logging.getLogger("trl_reasoning.one_shot")
PAPER = "https://arxiv.org/abs/2504.20571"


REFUSAL = ("1-shot RLVR trains on its chosen examples only (its train_sampler replicates them); a plugin that picks "
           "or narrows the prompts would put other dataset rows in their place, so the one-example run would silently "
           "become a multi-example one")


def decides_correctness(func) -> bool:
    """A reward that grades correctness: it reports ``last_correct`` (``reports_correctness``) or has ``is_correct``."""
    return bool(getattr(func, "reports_correctness", False)) or hasattr(func, "is_correct")


class Plugin:
    # Another selector or candidate source is refused before any model loads (check_composition). Refill rounds
    # (trainer.group_filter_max_rounds) stay defined: one_shot's own candidate_rows keeps them on the chosen rows.
    composition = Composition(refuses={"select_prompts": REFUSAL, "candidate_rows": REFUSAL})

    @dataclass
    class Config:
        examples: list[int] = field(default_factory=list, metadata={
            "help": "Train only on these examples (values of `index_column`, e.g. DSR-sub's 124 for pi1); empty: "
                    "every row. The authors select pi_j with `data_selection.py --top_index j-1`."})
        replicate: int | None = field(default=None, metadata={
            "help": "Copies of each chosen example per epoch, each its own GRPO group. Default: the data's "
                    "`train_repeat` column if it has one, else 128 when `examples` is set (authors' "
                    "`data_selection.py --repeat_time 128`), else no replication (record only)."})
        index_column: str = field(default="dsr_sub_index", metadata={
            "help": "Column naming an example in `examples` and in the record (DSR-sub's `dsr_sub_index`, the "
                    "authors' `extra_info.index`); `prompt_id` when the data has no such column."})
        record_accuracy: bool = field(default=True, metadata={
            "help": "Record each example's training accuracy per epoch (authors' ray_trainer "
                    "`_log_scores_to_wandb`, the source of `acc_step_500.json`)."})

    def __init__(self, config: Config):
        if config.replicate is not None and config.replicate < 1:
            raise ConfigError("plugins.one_shot.replicate", f"must be >= 1, got {config.replicate}")
        self.config = config
        self.records = None  # trainer.records: the core's per-prompt record, which counts the rollouts
        self.epoch_of_step: dict[int, int] = {}  # step -> floor(epoch) of the steps whose rollouts are recorded
        self.index_of: dict[int, object] = {}
        self.recording = config.record_accuracy
        self.chosen_rows: list[int] = []
        self.replicate: int | None = None
        self.output_dir: str | None = None

    # -- setup --------------------------------------------------------------------------------------------------------

    @property
    def record(self) -> AccuracyRecord:
        """Each example's accuracy per epoch, from ``trainer.records`` and the epoch of every recorded step."""
        if self.records is None:
            return AccuracyRecord()
        return AccuracyRecord.from_records(self.records, self.epoch_of_step, self.index_of)

    @hookimpl
    def trainer_ready(self, trainer):
        self.records = trainer.records
        self.output_dir = trainer.args.output_dir
        dataset = trainer.train_dataset
        column = self.config.index_column if self.config.index_column in dataset.column_names else "prompt_id"
        self.index_of = dict(zip(dataset["prompt_id"], dataset[column]))
        if self.recording and not any(decides_correctness(f) for f in trainer.reward_funcs):
            logger.warning("one_shot: no reward decides correctness (`is_correct`), so no accuracy is recorded; "
                           "add e.g. `{name: correctness, weight: 0.0}` to record it without training on it")
            self.recording = False

    def _choose_rows(self, dataset) -> tuple[list[int], int | None]:
        config = self.config
        if config.examples:
            column = config.index_column if config.index_column in dataset.column_names else "prompt_id"
            position = {value: i for i, value in enumerate(dataset[column])}
            missing = [e for e in config.examples if e not in position]
            if missing:
                raise ConfigError("plugins.one_shot.examples", f"no row with {column} = {missing[0]} in the training "
                                                              f"data ({len(dataset)} rows)")
            rows = [position[e] for e in config.examples]
        else:
            rows = list(range(len(dataset)))
        replicate = config.replicate
        if replicate is None and "train_repeat" in dataset.column_names:
            replicate = int(dataset[rows[0]]["train_repeat"])
        if replicate is None and config.examples:
            replicate = 128
        return rows, replicate

    @hookimpl
    def train_sampler(self, trainer, dataset, default_sampler):
        rows, replicate = self._choose_rows(dataset)
        if replicate is None and not self.config.examples:
            return None  # record only: TRL's own sampler over the whole dataset
        replicate = replicate or 1
        prompts_per_batch = default_sampler.batch_size
        if len(rows) * replicate < prompts_per_batch:
            raise ConfigError("plugins.one_shot.replicate",
                              f"{len(rows)} example(s) x {replicate} copies = {len(rows) * replicate} groups, fewer "
                              f"than the {prompts_per_batch} prompts of one generation batch; raise `replicate`")
        from .sampler import ReplicatedSampler  # torch: imported when a run builds its sampler

        self.chosen_rows, self.replicate = rows, replicate
        return ReplicatedSampler(rows, replicate, mini_repeat_count=default_sampler.mini_repeat_count,
                                 batch_size=default_sampler.batch_size, repeat_count=default_sampler.repeat_count,
                                 shuffle=default_sampler.shuffle, seed=default_sampler.seed)

    @hookimpl
    def candidate_rows(self, trainer, dataset, indices):
        """Refill rounds (dynamic sampling) draw replacement prompts from the eligible rows: only the chosen
        examples, so the run stays a one-example run (record-only mode: every row)."""
        if not self.chosen_rows:
            return None
        chosen = set(self.chosen_rows)
        return [i for i in indices if i in chosen]

    # -- every generation round ---------------------------------------------------------------------------------------

    @hookimpl
    def on_rewards(self, trainer, batch):
        # the rollouts themselves are counted by trainer.records (after this hook); the epoch of the step is ours
        if not self.recording or batch.correct is None:
            return
        self.epoch_of_step[int(batch.step)] = int(math.floor((trainer.state.epoch or 0.0) + 1e-9))

    @hookimpl
    def metrics(self, trainer, mode):
        if mode != "train" or not self.epoch_of_step:
            return None
        return {"one_shot/examples_recorded": float(len(self.record.counts))}

    # -- checkpoints ------------------------------------------------------------------------------------------------

    @hookimpl
    def plugin_state(self, trainer):
        record = self.record
        if trainer.accelerator.is_main_process and record.counts:
            self.write_record(Path(trainer.args.output_dir) / HIST_ACC_FILE, record)
        # the rollouts are in the core's record (`core:records`); `trl-reason one-shot rank` reads both
        return {"epoch_of_step": dict(self.epoch_of_step), "index_of": dict(self.index_of),
                "index_column": self.config.index_column}

    @hookimpl
    def load_plugin_state(self, trainer, state):
        self.epoch_of_step = {int(k): int(v) for k, v in state.get("epoch_of_step", {}).items()}

    def write_record(self, path: Path, record: AccuracyRecord | None = None) -> None:
        rows = (record or self.record).rows(self.index_of, self.config.index_column)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps({**row, "hist_acc_std": historical_std(row["hist_acc"])}) + "\n")
        tmp.replace(path)

    @hookimpl
    def model_card_sections(self, recipe, results):
        if not self.config.examples:
            return None
        return [f"## 1-shot RLVR\n\nTrained on {len(self.config.examples)} example(s) "
                f"({self.config.index_column} {', '.join(map(str, self.config.examples))}), replicated to fill each "
                f"batch, as in [1-shot RLVR]({PAPER})."]


# -- `trl-reason one-shot rank` ---------------------------------------------------------------------------------------


def cmd_rank(args) -> int:
    rows = load_hist_acc_rows(args.source)
    if not rows:
        raise ConfigError("one-shot rank", f"{args.source}: no rows")
    columns = set(rows[0])
    index_column = args.index_column or next(
        (c for c in ("dsr_sub_index", "index", "prompt_id") if c in columns), None)
    if index_column is None or index_column not in columns:
        wanted = args.index_column or "dsr_sub_index/index/prompt_id"
        raise ConfigError("one-shot rank", f"{args.source}: no index column {wanted} "
                         f"(columns: {sorted(columns)}); pass --index-column")
    tie = args.tie_break
    if tie is None:
        tie = "pi_rank" if "pi_rank" in columns else None
    elif tie == "none":
        tie = None
    try:
        ranked = rank_examples(rows, index_column=index_column, tie_column=tie)
    except (ValueError, KeyError) as exc:
        raise ConfigError("one-shot rank", f"{args.source}: {exc}") from None
    top = ranked if args.top is None else ranked[: args.top]
    if args.with_std:
        std = {row[index_column]: historical_std(row["hist_acc"]) for row in rows}
        for index in top:
            print(f"{index}\t{std[index]:.6f}")
    else:
        for index in top:
            print(index)
    return 0


@hookimpl
def register_commands(subparsers):
    parser = subparsers.add_parser("one-shot", help="1-shot RLVR tools (rank examples by historical variance)",
                                   description="1-shot RLVR (Wang et al. 2025) tools.")
    sub = parser.add_subparsers(dest="one_shot_command", metavar="COMMAND", required=True)
    rank = sub.add_parser("rank", help="print the pi list: examples by historical accuracy std, highest first",
                          description="Rank examples by the population std of their per-epoch training accuracy "
                                      "(1-shot RLVR's historical variance score) and print their indices, one a line.")
    rank.add_argument("source", help="a file with a `hist_acc` column (jsonl/json/parquet, e.g. dsr_sub.jsonl), the "
                                     "authors' acc_step_500.json, a run directory, a checkpoint or plugin_state.pt")
    rank.add_argument("--top", type=int, default=None, metavar="K", help="print only the first K (default: all)")
    rank.add_argument("--index-column", default=None,
                      help="column to print (default: dsr_sub_index, else index, else prompt_id)")
    rank.add_argument("--tie-break", default=None, metavar="COLUMN",
                      help="order ties by this column (default: pi_rank when present, else the source order; "
                           "`none` for the source order)")
    rank.add_argument("--with-std", action="store_true", help="also print each example's std")
    rank.set_defaults(handler=cmd_rank)
