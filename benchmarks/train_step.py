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

"""Benchmark: the full jitted train step against a PyTorch eager baseline.

For every model of `--models` (crnn: configs/default.py, the DCASE2023
baseline; conformer: configs/conformer_synthetic.py, the ResNet-Conformer)
and every batch size of `--batch_sizes`, the jitted step of
`seld_jax.train_step.setup` (raw audio [B, 4, N] -> features on device ->
normalisation -> model -> ADPIT loss -> optax update, state donated) is
timed on one random batch already placed on the devices:

  setup_s        model init and state placement
  trace_s        tracing and lowering (`jitted.lower`)
  compile_s      XLA compilation (`lowered.compile`)
  first_step_s   the first execution of the compiled step
  step_s_*       median / min of `--repeats` steps, each waited for, after
                 `--warmup` untimed ones; steps/s and windows/s from the median
  peak_rss_mb    peak resident memory of the process running the
                 configuration (`getrusage` maxrss); each configuration runs
                 in its own subprocess (`--subprocess`, the default), so the
                 peaks are separable; `xla_step_memory_mb` is XLA's plan for
                 the compiled step and `device_peak_mb` the accelerator's
                 peak, where the backend reports one
  cpu_util       process CPU seconds / wall seconds over the timed steps (at
                 most the number of cores; lower when other jobs share them)
  flops_per_step the FLOPs XLA counts in the compiled step, all devices
                 (`benchmarks.mfu`); `achieved_tflops` from the median step
  mfu            achieved over the devices' dense peak (`--peak_tflops` per
                 device, or `mfu.PEAK_TFLOPS` by device kind: TF32 for a
                 float32 step on NVIDIA GPUs, bf16 with `--bf16`); None on
                 CPUs, which have no table
  matmul_roof_tflops  what XLA's 2048^3 matmul (8192^3 on accelerators)
                 reaches on one device (all cores of a CPU), and
                 `fraction_of_matmul_roof` the step's share of it (of the
                 roof times the devices on accelerators)

The same is measured for a PyTorch eager implementation of the baseline CRNN
(SPEC §3.1, the official module layout) trained with the official
`MSELoss_ADPIT` and Adam(1e-3) on PRECOMPUTED features [B, 7, 250, 64] (no
feature extraction, no `set_detect_anomaly`), on the CPU with
`torch.set_num_threads(os.cpu_count())`; `ratio_vs_torch` is the CRNN's
windows/s divided by PyTorch's at the same global batch. Its
`flops_per_step` are the matmuls and convolutions of forward + backward
(`torch.utils.flop_counter`; elementwise work and Adam not counted) and its
`matmul_roof_tflops` is torch's own 2048^3 float32 matmul.

`--check_scaling` also runs a few steps of `--scaling_model` with the same
global batches on 1 and on 8 forced CPU devices
(`XLA_FLAGS=--xla_force_host_platform_device_count=8`, in a subprocess) and
prints both losses.

Accelerator runs only change flags: `--per_device_batch` (the batch sizes
are per device), `--devices` (how many to use), `--bf16` (config.bf16),
`--notorch`. `--huge_pages` (the default) runs every configuration
subprocess, ours and PyTorch's alike, with `glibc.malloc.hugetlb=1` as
`seld_jax.main` runs (`seld_jax.huge_pages`; recorded under `machine`);
`--nohuge_pages` without it (the README's rows before session 12). The
load average (other jobs share the machine) is recorded for the whole run
and per configuration. Prints one JSON object.

  python -m benchmarks.train_step [--models=crnn,conformer,av_crnn \
      --batch_sizes=8,32,128 --repeats=10 --check_scaling]
"""

import importlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import traceback

from absl import app
from absl import flags
import numpy as np

from benchmarks import mfu
from seld_jax import huge_pages

_MODELS = flags.DEFINE_list(
    'models',
    ['crnn', 'conformer', 'av_crnn'],
    'Models to time (crnn, conformer, av_crnn).',
)
_BATCH_SIZES = flags.DEFINE_list(
    'batch_sizes', ['8', '32', '128'], 'Global (or per-device) batch sizes.'
)
_SKIP = flags.DEFINE_list(
    'skip', [], 'model:batch pairs to leave out, e.g. conformer:128.'
)
_PER_DEVICE = flags.DEFINE_bool(
    'per_device_batch', False, 'The batch sizes are per device.'
)
_DEVICES = flags.DEFINE_integer(
    'devices', 0, 'Devices to use (0: all of them).'
)
_BF16 = flags.DEFINE_bool('bf16', False, 'Set config.bf16 (bf16 compute).')
_PEAK_TFLOPS = flags.DEFINE_float(
    'peak_tflops',
    None,
    'Dense peak TFLOP/s of one device for the MFU (default: benchmarks.mfu'
    '.PEAK_TFLOPS by device kind; none for CPUs).',
)
_MATMUL_ROOF = flags.DEFINE_bool(
    'matmul_roof',
    True,
    "Also time XLA's (and torch's) 2048^3 matmul (8192^3 on accelerators).",
)
_REPEATS = flags.DEFINE_integer(
    'repeats', 10, 'Timed steps per setting.', lower_bound=1
)
_WARMUP = flags.DEFINE_integer(
    'warmup', 2, 'Untimed steps after the first one.'
)
_TORCH = flags.DEFINE_bool(
    'torch', True, 'Also time the PyTorch eager baseline CRNN (CPU).'
)
_TORCH_THREADS = flags.DEFINE_integer(
    'torch_threads', 0, 'torch.set_num_threads (0: os.cpu_count()).'
)
_SUBPROCESS = flags.DEFINE_bool(
    'subprocess', True, 'Run every configuration in its own process.'
)
_TIMEOUT = flags.DEFINE_integer(
    'timeout', 1800, 'Seconds allowed per configuration subprocess.'
)
_HUGE_PAGES = flags.DEFINE_bool(
    'huge_pages',
    True,
    'Run the configuration subprocesses (ours and PyTorch alike) with'
    ' glibc.malloc.hugetlb=1, as seld_jax.main runs (seld_jax.huge_pages);'
    ' --nohuge_pages: without it.',
)
_CHECK_SCALING = flags.DEFINE_bool(
    'check_scaling', False, 'Compare 1 vs 8 forced CPU devices.'
)
_SCALING_MODEL = flags.DEFINE_string(
    'scaling_model', 'crnn', 'Model of the scaling check.'
)
_SCALING_BATCH = flags.DEFINE_integer(
    'scaling_batch', 16, 'Global batch of the scaling check.'
)
_SCALING_STEPS = flags.DEFINE_integer(
    'scaling_steps', 3, 'Steps of the scaling check.'
)
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the random batches.')
_WORKER = flags.DEFINE_string(
    'worker', None, 'Internal: run one configuration (JSON) and exit.'
)

MODEL_CONFIGS = {
    # The DCASE2023 baseline on 5-s windows (the PyTorch reference's input).
    'crnn': 'configs.default:five_second_config',
    'conformer': 'configs.conformer_synthetic',
    # The DCASE2024 AV baseline with its small-CNN front end on raw frames
    # (64x128, one per label frame), the visual encoder inside the step.
    'av_crnn': 'configs.av_baseline_synthetic',
}
RESULT_PREFIX = 'BENCHMARK_RESULT '
NUM_CLASSES = 13


def _get_config(model: str):
  """The config of `model`, on 5-s windows (the PyTorch reference's)."""
  if model not in MODEL_CONFIGS:
    raise ValueError(f'Unknown model {model!r}; known: {sorted(MODEL_CONFIGS)}')
  config = load_config(MODEL_CONFIGS[model])
  # The AV config trains on 1.2-s windows; its README row, like every row
  # here, times 5-s ones (50 label frames, 50 video frames).
  config.window_seconds = 5.0
  return config


def load_config(name: str):
  """`module[:function]` (default function `get_config`) -> its config."""
  module, _, function = name.partition(':')
  return getattr(importlib.import_module(module), function or 'get_config')()


def _round(value: float | None, digits: int) -> float | None:
  return None if value is None else round(value, digits)


def _peak_rss_mb() -> float:
  # Linux reports ru_maxrss in KiB.
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_seconds() -> float:
  usage = resource.getrusage(resource.RUSAGE_SELF)
  return usage.ru_utime + usage.ru_stime


def _load() -> list[float]:
  return [round(x, 2) for x in os.getloadavg()]


def _noise(rng, shape, scale: float = 0.1) -> np.ndarray:
  """Gaussian float32 noise, made without a float64 copy (peak memory)."""
  x = rng.standard_normal(shape, dtype=np.float32)
  x *= scale
  return x


def _random_target(
    rng, batch: int, frames: int, target: str = 'multi_accdoa'
) -> np.ndarray:
  """An ADPIT target [B, T, 6, 4 (5 with distance), C], some events active."""
  if target not in ('multi_accdoa', 'multi_accdoa_distance'):
    raise ValueError(f'No random target for {target!r}.')
  elements = 5 if target == 'multi_accdoa_distance' else 4
  out = np.zeros((batch, frames, 6, elements, NUM_CLASSES), np.float32)
  active = rng.random((batch, frames, NUM_CLASSES)) < 0.1
  xyz = rng.normal(size=(batch, frames, 3, NUM_CLASSES))
  xyz /= np.linalg.norm(xyz, axis=2, keepdims=True)
  out[:, :, 0, 0] = active
  out[:, :, 0, 1:4] = xyz * active[:, :, None]
  if elements == 5:
    out[:, :, 0, 4] = rng.uniform(0.5, 5.0, active.shape) * active
  return out


def _timed_steps(step, repeats: int):
  """Runs `step()` `repeats` times.

  Args:
    step: a function that returns when its work is done.
    repeats: how many times to run it.

  Returns:
    (per-step seconds, CPU utilisation, the last value returned).
  """
  times, value = [], None
  cpu0, wall0 = _cpu_seconds(), time.perf_counter()
  for _ in range(repeats):
    start = time.perf_counter()
    value = step()
    times.append(time.perf_counter() - start)
  cpu_util = (_cpu_seconds() - cpu0) / max(time.perf_counter() - wall0, 1e-9)
  return times, cpu_util, value


def _summary(times, batch: int, cpu_util: float) -> dict:
  median = statistics.median(times)
  return {
      'step_s_median': round(median, 5),
      'step_s_min': round(min(times), 5),
      'steps_per_s': round(1.0 / median, 3),
      'windows_per_s': round(batch / median, 2),
      'cpu_util': round(cpu_util, 2),
  }


# The seld_jax step
# -----------------------------------------------------------------------------


def _jax_worker(spec: dict) -> dict:
  """Times the jitted step of one (model, batch) configuration."""
  # Imported here so that a PyTorch worker does not hold JAX (and the
  # reverse): each process's peak memory is its own framework's.
  import jax  # pylint: disable=g-import-not-at-top

  from seld_jax import sharding  # pylint: disable=g-import-not-at-top
  from seld_jax import train_step  # pylint: disable=g-import-not-at-top

  rss_imports = _peak_rss_mb()
  load_start = _load()
  config = _get_config(spec['model'])
  config.bf16 = bool(spec['bf16'])
  devices = jax.devices()
  if spec['devices']:
    if spec['devices'] > len(devices):
      raise ValueError(
          f'--devices={spec["devices"]} but only {len(devices)} are visible.'
      )
    devices = devices[: spec['devices']]
  global_batch = spec['batch'] * (len(devices) if spec['per_device'] else 1)
  config.batch_size = global_batch
  mesh = sharding.make_mesh(devices=devices)
  sharding.check_global_batch(global_batch, mesh)

  num_samples = int(round(config.window_seconds * config.sample_rate))
  spec_shape = train_step.feature_spec(config, None).shape(num_samples)
  # Identity statistics: the normalisation is part of the step as in
  # training, its values do not change the cost.
  stats = {
      'mean': np.zeros((spec_shape[0], spec_shape[2]), np.float32),
      'std': np.ones((spec_shape[0], spec_shape[2]), np.float32),
  }
  start = time.perf_counter()
  run = train_step.setup(config, mesh, stats)
  jax.block_until_ready(run.state)
  setup_s = time.perf_counter() - start

  rng = np.random.default_rng(spec['seed'])
  local = global_batch // jax.process_count()
  frames = int(round(config.window_seconds * config.label_rate))
  batch = {
      'audio': _noise(rng, (local, 4, num_samples)),
      'target': _random_target(rng, local, frames, config.target),
      'mask': np.ones((local, frames), np.float32),
  }
  if config.get('visual', '') == 'frames':
    height, width = config.model_kwargs.visual_size
    batch['visual'] = rng.integers(
        0, 256, (local, frames, height, width, 3), dtype=np.uint8
    )
  batch = sharding.to_global(batch, mesh)

  start = time.perf_counter()
  lowered = run.train_step.lower(run.state, batch)
  trace_s = time.perf_counter() - start
  start = time.perf_counter()
  compiled = lowered.compile()
  compile_s = time.perf_counter() - start
  flops = mfu.compiled_flops(compiled, len(devices))

  holder = {'state': run.state}

  def step():
    holder['state'], metrics = compiled(holder['state'], batch)
    return jax.block_until_ready(metrics['loss'])

  start = time.perf_counter()
  first_loss = float(step())
  first_step_s = time.perf_counter() - start
  for _ in range(spec['warmup']):
    step()
  times, cpu_util, last_loss = _timed_steps(step, spec['repeats'])
  last_loss = float(last_loss)

  # The feature extraction (and normalisation) alone, to see its share.
  features = jax.jit(lambda audio: run.features(audio))
  audio = batch['audio']
  jax.block_until_ready(features(audio))
  feature_times, _, _ = _timed_steps(
      lambda: jax.block_until_ready(features(audio)), spec['repeats']
  )

  median = statistics.median(times)
  peak = spec['peak_tflops'] or mfu.peak_tflops(
      devices[0].device_kind, bool(spec['bf16'])
  )
  achieved, utilisation = mfu.utilisation(flops, median, peak, len(devices))
  roof = roof_fraction = None
  if spec['matmul_roof']:
    roof = mfu.matmul_roof_tflops(
        devices[0], dtype='bfloat16' if spec['bf16'] else 'float32'
    )
    # A CPU device's matmul already uses every core (forced CPU devices
    # share them); accelerators add a roof per device.
    roof_total = roof * (1 if devices[0].platform == 'cpu' else len(devices))
    if achieved:
      roof_fraction = round(achieved / roof_total, 4)
    roof = round(roof, 4)

  xla_memory = None
  analysis = compiled.memory_analysis()
  if analysis is not None:
    xla_memory = {
        name: round(getattr(analysis, f'{name}_size_in_bytes') / 2**20, 1)
        for name in ('argument', 'output', 'temp', 'generated_code')
        if hasattr(analysis, f'{name}_size_in_bytes')
    }
  device_peak_mb = None
  stats_fn = getattr(devices[0], 'memory_stats', None)
  mem = stats_fn() if stats_fn else None
  if mem and 'peak_bytes_in_use' in mem:
    device_peak_mb = round(mem['peak_bytes_in_use'] / 2**20, 1)
  result = {
      'model': spec['model'],
      'config': MODEL_CONFIGS[spec['model']],
      'model_name': config.model,
      'num_params': int(run.model_def.num_params),
      'features': config.features,
      'feature_shape': list(spec_shape),
      'global_batch': global_batch,
      'devices': len(devices),
      'per_device_batch': global_batch // len(devices),
      'bf16': bool(spec['bf16']),
      'setup_s': round(setup_s, 3),
      'trace_s': round(trace_s, 3),
      'compile_s': round(compile_s, 3),
      'first_step_s': round(first_step_s, 4),
      **_summary(times, global_batch, cpu_util),
      'features_alone_s_median': round(statistics.median(feature_times), 5),
      'flops_per_step': flops,
      'achieved_tflops': _round(achieved, 4),
      'peak_tflops_per_device': peak,
      'mfu': _round(utilisation, 4),
      'matmul_roof_tflops': roof,
      'fraction_of_matmul_roof': roof_fraction,
      'repeats': spec['repeats'],
      'loss_first_last': [round(first_loss, 6), round(last_loss, 6)],
      'peak_rss_mb': round(_peak_rss_mb(), 1),
      'rss_after_imports_mb': round(rss_imports, 1),
      'device_peak_mb': device_peak_mb,
      # The compiled step's buffers (MiB) as XLA plans them.
      'xla_step_memory_mb': xla_memory,
      'load_average_start_end': [load_start, _load()],
  }
  result['platform'] = {
      'jax': jax.__version__,
      'backend': jax.default_backend(),
      'device_kind': devices[0].device_kind,
      'device_count': jax.device_count(),
  }
  return result


# The PyTorch eager baseline (SPEC §3.1 and §4)
# -----------------------------------------------------------------------------


def _torch_crnn(in_channels: int, num_freq_bins: int, out_size: int):
  """The DCASE2023 SeldModel in PyTorch (the official module layout)."""
  import torch  # pylint: disable=g-import-not-at-top
  from torch import nn  # pylint: disable=g-import-not-at-top

  class ConvBlock(nn.Module):

    def __init__(self, cin, cout):
      super().__init__()
      self.conv = nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=1)
      self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
      return torch.relu(self.bn(self.conv(x)))

  class SeldModel(nn.Module):

    def __init__(self):
      super().__init__()
      t_pool, f_pool = (5, 1, 1), (4, 4, 2)
      self.conv_block_list = nn.ModuleList()
      for i, (t, f) in enumerate(zip(t_pool, f_pool)):
        self.conv_block_list.append(
            ConvBlock(in_channels if i == 0 else 64, 64)
        )
        self.conv_block_list.append(nn.MaxPool2d((t, f)))
        self.conv_block_list.append(nn.Dropout2d(p=0.05))
      self.gru = nn.GRU(
          input_size=64 * int(np.floor(num_freq_bins / np.prod(f_pool))),
          hidden_size=128,
          num_layers=2,
          batch_first=True,
          dropout=0.05,
          bidirectional=True,
      )
      self.mhsa_block_list = nn.ModuleList([
          nn.MultiheadAttention(128, 8, dropout=0.05, batch_first=True)
          for _ in range(2)
      ])
      self.layer_norm_list = nn.ModuleList(
          [nn.LayerNorm(128) for _ in range(2)]
      )
      self.fnn_list = nn.ModuleList(
          [nn.Linear(128, 128, bias=True), nn.Linear(128, out_size, bias=True)]
      )

    def forward(self, x):
      for layer in self.conv_block_list:
        x = layer(x)
      x = x.transpose(1, 2).contiguous()
      x = x.view(x.shape[0], x.shape[1], -1).contiguous()
      x, _ = self.gru(x)
      x = torch.tanh(x)
      x = x[:, :, x.shape[-1] // 2 :] * x[:, :, : x.shape[-1] // 2]
      for att, norm in zip(self.mhsa_block_list, self.layer_norm_list):
        a, _ = att(x, x, x)
        x = norm(a + x)
      for layer in self.fnn_list[:-1]:
        x = layer(x)
      return torch.tanh(self.fnn_list[-1](x))

  return SeldModel()


def _torch_adpit(output, target):
  """`MSELoss_ADPIT` of the 2023 baseline (output [B, T, 117])."""
  import torch  # pylint: disable=g-import-not-at-top

  act = target[:, :, :, 0:1, :]
  vec = target[:, :, :, 1:, :]
  a0, b0, b1, c0, c1, c2 = (act[:, :, i] * vec[:, :, i] for i in range(6))

  def cat(a, b, c):
    return torch.cat((a, b, c), 2)

  aaa = cat(a0, a0, a0)
  b_perms = [
      cat(b0, b0, b1),
      cat(b0, b1, b0),
      cat(b0, b1, b1),
      cat(b1, b0, b0),
      cat(b1, b0, b1),
      cat(b1, b1, b0),
  ]
  c_perms = [
      cat(c0, c1, c2),
      cat(c0, c2, c1),
      cat(c1, c0, c2),
      cat(c1, c2, c0),
      cat(c2, c0, c1),
      cat(c2, c1, c0),
  ]
  pad4a = b_perms[0] + c_perms[0]
  pad4b = aaa + c_perms[0]
  pad4c = aaa + b_perms[0]
  targets = (
      [aaa + pad4a]
      + [p + pad4b for p in b_perms]
      + [p + pad4c for p in c_perms]
  )
  y = output.reshape(output.shape[0], output.shape[1], 9, NUM_CLASSES)
  losses = torch.stack([((y - t) ** 2).mean(dim=2) for t in targets])
  best = torch.min(losses, dim=0).indices
  total = sum(losses[p] * (best == p) for p in range(len(targets)))  # [B, T, C]
  return total.mean()


def _torch_worker(spec: dict) -> dict:
  """Times forward + backward + Adam of the PyTorch baseline on CPU."""
  import torch  # pylint: disable=g-import-not-at-top
  from torch.utils import flop_counter  # pylint: disable=g-import-not-at-top

  rss_imports = _peak_rss_mb()
  load_start = _load()
  threads = spec['threads'] or os.cpu_count()
  torch.set_num_threads(threads)
  torch.manual_seed(spec['seed'])
  batch = spec['batch']
  start = time.perf_counter()
  model = _torch_crnn(7, 64, 3 * 3 * NUM_CLASSES)
  model.train()
  optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
  setup_s = time.perf_counter() - start
  rng = np.random.default_rng(spec['seed'])
  features = torch.from_numpy(_noise(rng, (batch, 7, 250, 64), scale=1.0))
  target = torch.from_numpy(_random_target(rng, batch, 50))

  def step():
    optimizer.zero_grad()
    loss = _torch_adpit(model(features), target)
    loss.backward()
    optimizer.step()
    return loss.item()

  start = time.perf_counter()
  first_loss = step()
  first_step_s = time.perf_counter() - start
  for _ in range(spec['warmup']):
    step()
  times, cpu_util, last_loss = _timed_steps(step, spec['repeats'])
  num_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
  with flop_counter.FlopCounterMode(display=False) as counter:
    step()  # Untimed: forward + backward counted, Adam is elementwise.
  flops = float(counter.get_total_flops())
  achieved, _ = mfu.utilisation(flops, statistics.median(times), None, 1)
  roof = None
  if spec['matmul_roof']:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    roof = mfu.best_tflops(lambda: torch.mm(a, b), 2.0 * 2048**3)
  return {
      'model': 'crnn (PyTorch eager, precomputed features)',
      'num_params': int(num_params),
      'feature_shape': [7, 250, 64],
      'global_batch': batch,
      'threads': threads,
      'setup_s': round(setup_s, 3),
      'first_step_s': round(first_step_s, 4),
      **_summary(times, batch, cpu_util),
      'flops_per_step': flops,
      'achieved_tflops': _round(achieved, 4),
      'matmul_roof_tflops': _round(roof, 4),
      'fraction_of_matmul_roof': (
          round(achieved / roof, 4) if achieved and roof else None
      ),
      'repeats': spec['repeats'],
      'loss_first_last': [round(first_loss, 6), round(last_loss, 6)],
      'peak_rss_mb': round(_peak_rss_mb(), 1),
      'rss_after_imports_mb': round(rss_imports, 1),
      'load_average_start_end': [load_start, _load()],
      'platform': {'torch': torch.__version__},
  }


# 1 vs 8 devices
# -----------------------------------------------------------------------------


def _scaling_worker(spec: dict) -> dict:
  """The same global batches on 1 and on all (8 forced) devices."""
  import jax  # pylint: disable=g-import-not-at-top

  from seld_jax import sharding  # pylint: disable=g-import-not-at-top
  from seld_jax import train_step  # pylint: disable=g-import-not-at-top

  if jax.device_count() < 2:
    raise RuntimeError(
        'The scaling check needs several devices (XLA_FLAGS was not applied).'
    )
  config = _get_config(spec['model'])
  config.batch_size = spec['batch']
  num_samples = int(round(config.window_seconds * config.sample_rate))
  frames = int(round(config.window_seconds * config.label_rate))
  rng = np.random.default_rng(spec['seed'])
  batches = [
      {
          'audio': _noise(rng, (spec['batch'], 4, num_samples)),
          'target': _random_target(rng, spec['batch'], frames),
          'mask': np.ones((spec['batch'], frames), np.float32),
      }
      for _ in range(spec['steps'])
  ]

  def train(devices):
    mesh = sharding.make_mesh(devices=devices)
    run = train_step.setup(config, mesh)
    initial = jax.tree.map(np.asarray, run.state.params)
    state, losses = run.state, []
    for batch in batches:
      state, metrics = run.train_step(state, sharding.to_global(batch, mesh))
      losses.append(float(metrics['loss']))
    return losses, initial, jax.tree.map(np.asarray, state.params)

  start = time.perf_counter()
  losses_many, _, params_many = train(jax.devices())
  losses_one, initial, params_one = train(jax.devices()[:1])
  moved = jax.tree.leaves(
      jax.tree.map(
          lambda a, b: float(np.max(np.abs(a - b))), params_one, initial
      )
  )
  diffs = jax.tree.leaves(
      jax.tree.map(
          lambda a, b: float(np.max(np.abs(a - b))), params_many, params_one
      )
  )
  rel = [abs(a - b) / abs(b) for a, b in zip(losses_many, losses_one)]
  return {
      'model': spec['model'],
      'global_batch': spec['batch'],
      'steps': spec['steps'],
      'devices': jax.device_count(),
      'dropout': 'on (same RNG state; threefry is sharding-invariant)',
      f'losses_{jax.device_count()}_devices': losses_many,
      'losses_1_device': losses_one,
      'max_rel_loss_diff': max(rel),
      'max_abs_param_diff_after_steps': max(diffs),
      # Adam moves a parameter by about the learning rate per step whatever
      # its gradient, so near-zero gradients that differ in rounding give
      # parameter differences of that order.
      'max_abs_param_change_1_device': max(moved),
      'match_rtol_1e-4': bool(max(rel) < 1e-4),
      'seconds': round(time.perf_counter() - start, 1),
  }


WORKERS = {
    'jax': _jax_worker,
    'torch': _torch_worker,
    'scaling': _scaling_worker,
}


# Driver
# -----------------------------------------------------------------------------


def _huge_pages_env(env: dict) -> dict:
  """The configuration subprocesses' environment under --huge_pages."""
  if not _HUGE_PAGES.value:
    return huge_pages.without(env)
  return huge_pages.environment(env) or env


def _run(spec: dict, env_update: dict | None = None) -> dict:
  """Runs one configuration, in a subprocess unless --nosubprocess."""
  if not _SUBPROCESS.value and not env_update:
    return WORKERS[spec['kind']](spec)
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ)
  env['PYTHONPATH'] = os.pathsep.join(
      p for p in (repo, env.get('PYTHONPATH')) if p
  )
  env.update(env_update or {})
  env = _huge_pages_env(env)
  try:
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'benchmarks.train_step',
            f'--worker={json.dumps(spec)}',
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT.value,
        check=False,
    )
  except subprocess.TimeoutExpired:
    return {'spec': spec, 'error': f'timed out after {_TIMEOUT.value} s'}
  for line in reversed(proc.stdout.splitlines()):
    if line.startswith(RESULT_PREFIX):
      return json.loads(line[len(RESULT_PREFIX) :])
  return {
      'spec': spec,
      'error': f'exit status {proc.returncode}',
      'stderr_tail': proc.stderr[-2000:],
  }


def _worker_main(spec_json: str) -> None:
  spec = json.loads(spec_json)
  try:
    result = WORKERS[spec['kind']](spec)
  except Exception as e:  # pylint: disable=broad-except
    result = {
        'spec': spec,
        'error': f'{type(e).__name__}: {e}',
        'traceback_tail': traceback.format_exc()[-2000:],
    }
  print(RESULT_PREFIX + json.dumps(result), flush=True)


def main(argv):
  del argv
  if _WORKER.value:
    _worker_main(_WORKER.value)
    return
  batch_sizes = [int(b) for b in _BATCH_SIZES.value]
  skip = set(_SKIP.value)
  common = {
      'matmul_roof': _MATMUL_ROOF.value,
      'repeats': _REPEATS.value,
      'warmup': _WARMUP.value,
      'seed': _SEED.value,
  }
  load_start = _load()
  start = time.perf_counter()
  ours = []
  for model in _MODELS.value:
    _get_config(model)  # Fails early on an unknown name.
    for batch in batch_sizes:
      if f'{model}:{batch}' in skip:
        continue
      ours.append(
          _run({
              'kind': 'jax',
              'model': model,
              'batch': batch,
              'per_device': _PER_DEVICE.value,
              'devices': _DEVICES.value,
              'bf16': _BF16.value,
              'peak_tflops': _PEAK_TFLOPS.value,
              **common,
          })
      )
  theirs = []
  if _TORCH.value:
    # PyTorch at the global batches the CRNN ran at.
    globals_ = [r['global_batch'] for r in ours if r.get('model') == 'crnn']
    if not globals_:
      globals_ = [
          b for b in batch_sizes if f'crnn:{b}' not in skip
      ]  # per-device sizes with no CRNN result: their nominal values
    for batch in globals_:
      theirs.append(
          _run({
              'kind': 'torch',
              'batch': batch,
              'threads': _TORCH_THREADS.value,
              **common,
          })
      )
  ratio, ratio_fastest, ratio_model_only = {}, {}, {}
  torch_by_batch = {r['global_batch']: r for r in theirs if 'error' not in r}
  for r in ours:
    b = r.get('global_batch')
    if r.get('model') != 'crnn' or b not in torch_by_batch:
      continue
    torch_r = torch_by_batch[b]
    ratio[str(b)] = round(r['windows_per_s'] / torch_r['windows_per_s'], 3)
    ratio_fastest[str(b)] = round(torch_r['step_s_min'] / r['step_s_min'], 3)
    # Approximate: XLA overlaps and fuses, so the difference of the two
    # medians is only an estimate of the model + loss + update time.
    rest = r['step_s_median'] - r['features_alone_s_median']
    if rest > 0:
      ratio_model_only[str(b)] = round(torch_r['step_s_median'] / rest, 3)
  scaling = None
  if _CHECK_SCALING.value:
    flags_env = os.environ.get('XLA_FLAGS', '')
    scaling = _run(
        {
            'kind': 'scaling',
            'model': _SCALING_MODEL.value,
            'batch': _SCALING_BATCH.value,
            'steps': _SCALING_STEPS.value,
            'seed': _SEED.value,
        },
        env_update={
            'XLA_FLAGS': (
                (
                    f'{flags_env} --xla_force_host_platform_device_count=8'
                ).strip()
            ),
            'JAX_PLATFORMS': 'cpu',
        },
    )
  platform_info = {}
  for r in ours + theirs:
    platform_info.update(r.pop('platform', {}) if 'error' not in r else {})
  report = {
      'benchmark': 'train_step',
      'settings': {
          'models': _MODELS.value,
          'batch_sizes': batch_sizes,
          'per_device_batch': _PER_DEVICE.value,
          'devices': _DEVICES.value or 'all',
          'bf16': _BF16.value,
          'peak_tflops': _PEAK_TFLOPS.value,
          'repeats': _REPEATS.value,
          'warmup': _WARMUP.value,
          'subprocess_per_configuration': _SUBPROCESS.value,
      },
      'what': {
          'ours': (
              'jitted step from raw audio [B, 4, 120000] (features on device, '
              'normalisation, model, ADPIT loss, optax update, donated state)'
          ),
          'torch': (
              'eager forward + backward + Adam on precomputed features '
              '[B, 7, 250, 64]; no feature extraction'
          ),
          'timing': (
              f'median of {_REPEATS.value} steps (each waited for) after '
              f'{_WARMUP.value} untimed ones; windows = 5-s examples'
          ),
          'ratio_vs_torch': 'crnn windows/s / torch windows/s, same batch',
          'ratio_vs_torch_fastest_steps': (
              'the same from the fastest step of each (less sensitive to '
              'other jobs; PyTorch threads suffer most when the cores are '
              'oversubscribed)'
          ),
          'mfu': (
              'XLA-counted FLOPs of the whole step per second over the dense'
              ' peak of the devices (TF32 for float32 on NVIDIA GPUs, bf16'
              ' with --bf16); torch flops_per_step: matmuls and convolutions'
              ' of forward + backward only'
          ),
          'ratio_vs_torch_without_features_estimate': (
              'the same with our step time minus the time of the jitted '
              'features alone (an estimate: both on precomputed features)'
          ),
      },
      'machine': {
          'cpu_count': os.cpu_count(),
          'sched_affinity_cpus': len(os.sched_getaffinity(0)),
          # Other processes compete for the CPUs when these exceed the cores.
          'load_average_1_5_15_at_start': load_start,
          'load_average_1_5_15_at_end': _load(),
          'wall_s': round(time.perf_counter() - start, 1),
          'processor': platform.processor() or platform.machine(),
          'python': platform.python_version(),
          'numpy': np.__version__,
          'glibc': huge_pages.glibc_version(),
          'thp_mode': huge_pages.thp_mode(),
          # Whether the configurations ran with huge pages for malloc.
          'glibc_tunables_of_configurations': (
              _huge_pages_env(dict(os.environ)).get('GLIBC_TUNABLES', '')
              if _SUBPROCESS.value
              else os.environ.get('GLIBC_TUNABLES', '')
          ),
          **platform_info,
      },
      'ours': ours,
      'torch': theirs,
      'ratio_vs_torch': ratio,
      'ratio_vs_torch_fastest_steps': ratio_fastest,
      'ratio_vs_torch_without_features_estimate': ratio_model_only,
  }
  if scaling is not None:
    report['scaling'] = scaling
  print(json.dumps(report, indent=2))


if __name__ == '__main__':
  app.run(main)
