# Sourced by scripts/demo.sh: pin what makes CPU training runs part between machines, so the
# demo gives the same numbers on any x86-64 machine with AVX2 (docs/results.md,
# "Reproducibility across machines"). Measured to part one epoch of the demo detector:
# - the number of threads (each thread count splits the reductions differently), so it is
#   fixed instead of following the machine's cores (MMCYCLIC_THREADS sets another count, which
#   gives other numbers);
# - oneDNN's convolution kernels, which follow the CPU's instruction set (AVX2 and AVX-512
#   kernels round differently): capped at AVX2.
# Not measured to matter on the 2-core AMD machine of docs/results.md, set so that machines
# with AVX-512 take the same paths as those without: MKL's code path (conditional numerical
# reproducibility) and numpy's AVX-512 loops (data generation).
export OMP_NUM_THREADS="${MMCYCLIC_THREADS:-2}"
export MKL_NUM_THREADS="$OMP_NUM_THREADS"
export ONEDNN_MAX_CPU_ISA=AVX2
export MKL_CBWR=AVX2
export NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR"
