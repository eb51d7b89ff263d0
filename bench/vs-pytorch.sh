#!/usr/bin/env bash
# finetune4j vs PyTorch on the same machine, same shapes, one run: `bench train` and the PyTorch
# reference trainer (../shared/bench/torch_lora_bench.py: Debian's python3-torch 1.13, HF Llama +
# PEFT LoRA semantics, AdamW, clip 1.0, LoRA alpha 16, dropout 0.05 on q,k,v,o,gate,up,down), one
# after the other, then the ratio of the median-step tokens/s and both peak RSS.
#
#   bench/vs-pytorch.sh                      smollm-135m LoRA r=8, B=4, T=256, FP32 (the default case)
#   bench/vs-pytorch.sh smollm tinyllama     more cases (tinyllama-1.1b LoRA, B=1, T=256)
#   bench/vs-pytorch.sh qlora7b               llama-2-7b-shaped QLoRA r=16 on all linear layers, B=1,
#                                            T=256, gradient checkpointing on both sides, PyTorch in
#                                            bf16 (its NF4 path computes in the autocast dtype); slow:
#                                            about 10 minutes per side at STEPS=2
#   TORCH_DTYPES="fp32 bf16" bench/vs-pytorch.sh   also PyTorch's bf16 autocast
#   STEPS=5 CKPT=1 bench/vs-pytorch.sh       timed steps; gradient checkpointing on both sides
#
# Environment: PYTHON (default /usr/bin/python3, which must import torch), TORCH_BENCH (the
# reference script), THREADS (default 2, both sides), FINETUNE4J_JAVA_OPTS (passed to the JVM).
# PyTorch's FP32 runs with the thread settings the reference's README gives (OpenMP passive
# waiting, OpenBLAS thread timeout, glibc malloc thresholds: 1.8x faster than the defaults here);
# bf16 with the defaults. The machine should be otherwise idle: the load average is printed with
# each figure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON=${PYTHON:-/usr/bin/python3}
TORCH_BENCH=${TORCH_BENCH:-$root/../shared/bench/torch_lora_bench.py}
THREADS=${THREADS:-2}
STEPS=${STEPS:-5}
CKPT=${CKPT:-0}
TORCH_DTYPES=${TORCH_DTYPES:-fp32}
cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(smollm)

if [ ! -f "$TORCH_BENCH" ]; then echo "vs-pytorch: no reference script at $TORCH_BENCH (set TORCH_BENCH)" >&2; exit 2; fi
if ! "$PYTHON" -c "import torch" 2>/dev/null; then
  echo "vs-pytorch: $PYTHON cannot import torch (hint: apt-get install python3-torch, or set PYTHON)" >&2; exit 2
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

load() { cut -d' ' -f1 /proc/loadavg; }
field() { "$PYTHON" -c "import json,sys; d=json.load(open(sys.argv[1])); print(d$2)" "$1"; }

printf '%-12s %-22s %10s %10s %12s %6s\n' case side "tok/s med" "tok/s best" "peak RSS MiB" load
for c in "${cases[@]}"; do
  case "$c" in
    smollm)    preset=smollm-135m;    tpreset=smollm135m;  b=4; t=256; r=8;  method=lora;  mode=lora;  dtypes=$TORCH_DTYPES ;;
    tinyllama) preset=tinyllama-1.1b; tpreset=tinyllama1b; b=1; t=256; r=8;  method=lora;  mode=lora;  dtypes=$TORCH_DTYPES ;;
    qlora7b)   preset=llama-2-7b;     tpreset=llama7b;     b=1; t=256; r=16; method=qlora; mode=qlora; dtypes=bf16 ;;
    *) echo "vs-pytorch: unknown case '$c' (smollm, tinyllama, qlora7b)" >&2; exit 2 ;;
  esac
  ck=(); tck=(); { [ "$CKPT" = 1 ] || [ "$method" = qlora ]; } && ck=(--grad-checkpoint) && tck=(--ckpt)

  l=$(load)
  FINETUNE4J_JAVA_OPTS="${FINETUNE4J_JAVA_OPTS:-} -Dfinetune4j.threads=$THREADS" \
    "$root/finetune4j" bench train --preset "$preset" --method "$method" --rank "$r" --target all-linear --batch-size "$b" --seq-len "$t" \
    --steps "$STEPS" "${ck[@]}" --json > "$tmp/j.json"
  jm=$(field "$tmp/j.json" '["tokens_per_s_median"]'); jb=$(field "$tmp/j.json" '["tokens_per_s_best"]')
  jr=$(field "$tmp/j.json" '["peak_rss_mib"]'); mfu=$(field "$tmp/j.json" '.get("mfu_median", float("nan"))')
  printf '%-12s %-22s %10.1f %10.1f %12.0f %6s   (MFU %.0f%% of the GEMM ceiling measured in the run)\n' \
    "$c" "finetune4j $method" "$jm" "$jb" "$jr" "$l" "$("$PYTHON" -c "print(100*$mfu)")"

  for dt in $dtypes; do
    l=$(load)
    if [ "$dt" = fp32 ]; then
      env OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4 MALLOC_MMAP_THRESHOLD_=33554432 \
        MALLOC_TRIM_THRESHOLD_=17179869184 MALLOC_TOP_PAD_=536870912 \
        "$PYTHON" "$TORCH_BENCH" --preset "$tpreset" --batch "$b" --seq "$t" --dtype fp32 --mode "$mode" --rank "$r" \
        --threads "$THREADS" --steps $((STEPS + 1)) "${tck[@]}" > "$tmp/t.txt"
    else
      "$PYTHON" "$TORCH_BENCH" --preset "$tpreset" --batch "$b" --seq "$t" --dtype "$dt" --mode "$mode" --rank "$r" \
        --threads "$THREADS" --steps $((STEPS + 1)) "${tck[@]}" > "$tmp/t.txt"
    fi
    sed -n 's/^RESULT //p' "$tmp/t.txt" > "$tmp/t.json"
    tm=$(field "$tmp/t.json" '["tokens_per_s_median"]'); tb=$(field "$tmp/t.json" '["tokens_per_s_best"]')
    tr=$(field "$tmp/t.json" '["peak_rss_mib"]')
    printf '%-12s %-22s %10.1f %10.1f %12.0f %6s\n' "$c" "pytorch $dt" "$tm" "$tb" "$tr" "$l"
    "$PYTHON" -c "print('%-12s %-22s %10.2fx %9.2fx %11.2fx' % ('$c', 'ratio vs $dt', $jm / $tm, $jb / $tb, $jr / $tr))"
  done
done
echo "(ratios: finetune4j / PyTorch; tokens/s higher is better, RSS lower is better; $THREADS threads each, $STEPS timed steps after 1 warm-up)"
