# Copyright 2026 The seld_jax Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""FLOPs of a compiled step, accelerators' peak rates, and utilisation.

MFU here is the FLOPs XLA counts in the compiled step (`cost_analysis`:
features, model, loss and optimizer update; an FFT counted as XLA's
HloCostAnalysis counts it) per second, over the devices' dense peak for the
step's matmul precision. JAX computes float32 matmuls and convolutions in
TF32 on NVIDIA GPUs since Ampere and in one bfloat16 pass on TPUs by
default, so a float32 step is measured against the TF32 peak (GPU) or the
bfloat16 peak (TPU), and a `--bf16` step against the bfloat16 peak.

CPUs have no table: their peak depends on the clock and vector units the
benchmark cannot read reliably. `matmul_roof_tflops` measures instead what
XLA's own large float32 matmul reaches on the device, the practical roof
that a step of convolutions and matmuls can approach.
"""

import time

# Dense (no 2:4 sparsity) peak TFLOP/s per device: (bf16, float32 default).
# The float32 default is TF32 tensor cores on NVIDIA Ampere and later, one
# bf16 pass on TPU. NVIDIA data sheets (SXM unless named); Google Cloud TPU
# system architecture pages. Matched in order on the lower-cased
# `device_kind`, so more specific names come first.
PEAK_TFLOPS = (
    ('h100 nvl', 835.5, 417.5),
    ('h100 pcie', 756.0, 378.0),
    ('h100', 989.4, 494.7),
    ('h200 nvl', 835.5, 417.5),
    ('h200', 989.4, 494.7),
    ('gh200', 989.4, 494.7),
    ('a100', 312.0, 156.0),
    ('l4', 121.0, 60.0),
    ('tpu v4', 275.0, 275.0),
    ('tpu v5 lite', 197.0, 197.0),
    ('tpu v5e', 197.0, 197.0),
    ('tpu v5', 459.0, 459.0),
    ('tpu v6 lite', 918.0, 918.0),
    ('tpu v6e', 918.0, 918.0),
)


def peak_tflops(device_kind: str, bf16: bool) -> float | None:
  """Dense peak TFLOP/s of one device of `device_kind`, or None if unknown."""
  kind = device_kind.lower()
  for pattern, bf16_peak, f32_peak in PEAK_TFLOPS:
    if pattern in kind:
      return bf16_peak if bf16 else f32_peak
  return None


def compiled_flops(compiled, num_devices: int) -> float | None:
  """FLOPs of one call of `compiled` over all `num_devices` devices.

  XLA's cost analysis describes the program of one device (for an SPMD
  program, one partition), so it is multiplied by the devices the step
  runs on. None where the backend reports no count.
  """
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):  # Older JAX: one dict per program.
    analysis = analysis[0] if analysis else None
  if not analysis or 'flops' not in analysis:
    return None
  flops = float(analysis['flops'])
  if flops <= 0:
    return None
  return flops * num_devices


def utilisation(
    flops_per_step: float | None,
    step_s: float,
    peak_tflops_per_device: float | None,
    num_devices: int,
) -> tuple[float | None, float | None]:
  """(achieved TFLOP/s, its fraction of the devices' total peak)."""
  if not flops_per_step or step_s <= 0:
    return None, None
  achieved = flops_per_step / step_s / 1e12
  if not peak_tflops_per_device:
    return achieved, None
  return achieved, achieved / (peak_tflops_per_device * num_devices)


def matmul_roof_tflops(
    device=None,
    n: int | None = None,
    repeats: int = 5,
    dtype: str = 'float32',
) -> float:
  """TFLOP/s of XLA's n x n x n matmul on `device` (best of `repeats`).

  n defaults to 2048 on a CPU and 8192 on an accelerator, where a smaller
  product takes about as long as launching it.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  device = device or jax.devices()[0]
  if n is None:
    n = 2048 if device.platform == 'cpu' else 8192
  keys = jax.random.split(jax.random.key(0))
  a, b = (
      jax.device_put(jax.random.normal(k, (n, n), dtype), device) for k in keys
  )
  matmul = jax.jit(jnp.matmul)
  return best_tflops(
      lambda: jax.block_until_ready(matmul(a, b)), 2.0 * n**3, repeats
  )


def best_tflops(run, flops: float, repeats: int = 5) -> float:
  """`flops` over the fastest of `repeats` calls of `run`, in TFLOP/s.

  `run` must return when its work is done; one untimed call goes first.
  """
  run()
  best = float('inf')
  for _ in range(repeats):
    start = time.perf_counter()
    run()
    best = min(best, time.perf_counter() - start)
  return flops / best / 1e12
