#!/usr/bin/env bash
# The IFD and generation figures of a GPU in one call of the `device` tool (a bare image with
# torch and transformers, no Django): the device, then bench/ifd.py on 4,000 pairs against the
# references, then an Alpaca-52k-sized set timed directly rather than projected, then
# bench/generate.py. Each step is capped so the call ends well inside the device time a session
# has; the output also goes to $OUT/ifd-gpu.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
log="${OUT:-/tmp}/ifd-gpu.txt"
python="${PYTHON:-$(command -v python3 || command -v python)}"
qwen=(--device cuda --shape qwen2.5-0.5b --batch-size 64 --token-budget 65536)
{
    nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,power.limit --format=csv
    "$python" -c "import sys, torch, transformers; print(sys.version.split()[0], torch.__version__, transformers.__version__)"
    timeout 240 "$python" bench/ifd.py "${qwen[@]}" --pairs 4000
    timeout 240 "$python" bench/ifd.py "${qwen[@]}" --pairs 52002 --reference-pairs 80 --skip-cherry
    # Generation (bench/generate.py): the issue's small Llama batched vs one at a time, then
    # tokens/s of the local backend with the Qwen2.5-0.5B shape.
    timeout 180 "$python" bench/generate.py --device cuda --batch-size 64
    timeout 180 "$python" bench/generate.py --device cuda --shape qwen2.5-0.5b --prompts 256 \
        --batch-size 128 --skip-single
} 2>&1 | tee "$log"
