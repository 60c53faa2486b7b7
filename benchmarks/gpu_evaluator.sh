#!/usr/bin/env bash
# The evaluator on a GPU machine, in one go: the GPU tests, then its cost and noise
# (eval_speed), what every adversarial kernel gets (attacks) and the gate's false-accept rate
# (gate_power's A/A test: GATE_RUNS decisions on a change that does nothing). With
# BEFORE=folder (holding another checkout's avo_tui/), eval_speed and attacks run once more
# against that evaluator, in the same run, for a side-by-side comparison.
#
#   benchmarks/gpu_evaluator.sh [OUT_DIR]         (default: ./gpu-evaluator-out)
#   BEFORE=.before TARGET=mha RUNS=5 GATE_RUNS=10 benchmarks/gpu_evaluator.sh "$OUT"
#   SKIP_TESTS=1 ... skips the pytest part
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-gpu-evaluator-out}"
mkdir -p "$out"
target="${TARGET:-mha}"
export PYTHONUNBUFFERED=1
python="${PYTHON:-python3}"
here="$PWD"

versions() {
  "$python" - <<'EOF'
import torch
p = torch.cuda.get_device_properties(0)
print(f"{p.name}; torch {torch.__version__}; CUDA {torch.version.cuda}; "
      f"cuDNN {torch.backends.cudnn.version()}")
EOF
  nvidia-smi --query-gpu=driver_version,clocks.sm,temperature.gpu --format=csv,noheader
}

versions | tee "$out/versions.txt"

if [ -z "${SKIP_TESTS:-}" ]; then
  echo "== pytest -m gpu tests/gpu"
  PYTHONPATH="$here" "$python" -m pytest -m gpu tests/gpu -q -x -p no:cacheprovider \
    --durations=10 2>&1 | tee "$out/pytest_gpu.txt" | tail -25
fi

run_pair() {  # name, script args...: the current evaluator, then BEFORE's
  local name="$1"; shift
  echo "== $name (this checkout)"
  PYTHONPATH="$here" "$python" "$@" > "$out/$name.json" 2> "$out/$name.err"
  tail -3 "$out/$name.err"
  if [ -n "${BEFORE:-}" ]; then
    echo "== $name (BEFORE=$BEFORE)"
    PYTHONPATH="$here/$BEFORE:$here" "$python" "$@" > "$out/${name}_before.json" \
      2> "$out/${name}_before.err"
    tail -3 "$out/${name}_before.err"
  fi
}

run_pair eval_speed benchmarks/eval_speed.py --target "$target" --runs "${RUNS:-5}" --json
run_pair attacks benchmarks/attacks.py --target "$target" --json
echo "== gate_power (A/A)"
PYTHONPATH="$here" "$python" benchmarks/gate_power.py --target "$target" --trials 0 \
  --aa-trials "${GATE_RUNS:-10}" --calibration-evals 1 --calibration-s 10 \
  --out "$out/gate_power.json" > "$out/gate_power.txt" 2> "$out/gate_power.err"
tail -3 "$out/gate_power.err"

"$python" - "$out" <<'EOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
def load(name):
    try:
        return json.loads((out / name).read_text())
    except (OSError, ValueError):
        return None
keys = ("eval_cold_s", "eval_warm_s", "noise_spread_pct", "geomean", "ratio", "nvcc_compare")
for name in ("eval_speed_before.json", "eval_speed.json"):
    doc = load(name)
    if doc:
        print(f"{name:24}", "  ".join(f"{k}={doc.get(k)}" for k in keys))
after, before = load("attacks.json"), load("attacks_before.json")
if after:
    old = {r["kernel"]: r for r in (before or {}).get("rows", [])}
    print(f"{'kernel':34} {'before':>22} {'after':>22}")
    for row in after["rows"]:
        b = old.get(row["kernel"])
        was = f"{b['verdict']} {b['x_honest']}x" if b else "-"
        print(f"{row['kernel']:34} {was:>22} {row['verdict'] + ' ' + str(row['x_honest']) + 'x':>22}")
power = load("gate_power.json")
for level in (power or {}).get("levels", []):
    if level["true_gain_pct"] == 0:
        print(f"gate_power A/A: {level['committed']} of {level['trials']} committed, decided a "
              f"median {level['median_decision_s']} s after the first reading")
EOF
