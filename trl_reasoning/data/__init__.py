"""Datasets: where rows come from, how a problem becomes a prompt, and the stable ``prompt_id`` column.

* ``data.sources``: one reader of data files (``read_rows``) and one resolver of names (``resolve``: the data dir,
  then ``$TRL_REASONING_DATA_DIR``, then the declared Hub source), for training sets and benchmarks alike;
  ``load_rows`` adds embedded data and URLs.
* ``data.registry``: the declared datasets (``math500``, ``gsm8k``, ``dsr_sub``, ``pi1``, ...): file and Hub source.
* ``data.prompts``: ``PromptFormat``, the one prompt renderer.
* ``data.arithmetic``: the embedded arithmetic task (``embedded:arithmetic``).
* ``data.training``: a recipe's training rows (``prompt``, ``problem``, ``answer``, ``prompt_id``) and held-out rows.
* ``data.answers``: reading a completion's answer.

Sources a recipe's ``data.train`` may name: ``embedded:arithmetic``; a declared name; a local ``.jsonl`` /
``.json`` / ``.parquet`` / ``.csv`` file; a Hub dataset id (``datasets.load_dataset(id, split=...)``); one file by
URL, e.g. ``hf://datasets/<owner>/<name>/<file>.jsonl`` (``read_remote_rows``).
"""

from __future__ import annotations

from trl_reasoning.data.arithmetic import ArithmeticOptions, arithmetic_rows
from trl_reasoning.data.errors import DataError, DataNotFound
from trl_reasoning.data.prompts import (LITERAL_TEMPLATES, QWEN25_MATH_COT_SYSTEM, TEMPLATES, PromptFormat,
                                        render_prompt)
from trl_reasoning.data.registry import DATASETS, DeclaredDataset, HubSource
from trl_reasoning.data.sources import (DATA_DIR_ENV, default_data_dirs, load_rows, read_remote_rows, read_rows,
                                        resolve)
from trl_reasoning.data.training import (fingerprint, load_test_rows, load_train_dataset, load_train_rows,
                                         prompt_rows, select_rows)

__all__ = [
    "ArithmeticOptions", "arithmetic_rows", "DataError", "DataNotFound", "LITERAL_TEMPLATES",
    "QWEN25_MATH_COT_SYSTEM", "TEMPLATES", "PromptFormat", "render_prompt", "DATASETS", "DeclaredDataset",
    "HubSource", "DATA_DIR_ENV", "default_data_dirs", "load_rows", "read_remote_rows", "read_rows", "resolve",
    "fingerprint", "load_test_rows", "load_train_dataset", "load_train_rows", "prompt_rows", "select_rows",
]
