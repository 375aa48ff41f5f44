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

"""Rendering speed of `seld_jax.synth`; prints JSON.

  python -m benchmarks.synth [--scenes 4] [--duration 30] [--skip-dataset]

Speeds are seconds of 4-channel audio rendered per wall-clock second (and
per CPU second, which does not depend on other load on the machine) in one
process (scenes in memory; video = frames drawn and encoded to an mp4), and
the wall time of writing the whole default dataset with all CPUs. For
'foa+mic' one scene second yields both formats.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import platform
import resource
import tempfile
import time

from seld_jax.synth import render
from seld_jax.synth import video


def _speed(config: render.SynthConfig, num: int, with_video: bool):
  """Audio seconds per wall second and per CPU second for `num` scenes."""
  render.render_scene(config, 10_000)  # warm-up (filter tables, imports)
  wall, cpu = time.perf_counter(), time.process_time()
  with tempfile.TemporaryDirectory() as tmp:
    for seed in range(num):
      _, table = render.render_scene(config, seed)
      if with_video:
        frames = video.render_frames(table, config.num_frames)
        video.write_mp4(pathlib.Path(tmp) / f'{seed}.mp4', frames)
  wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
  seconds = num * config.duration
  return round(seconds / wall, 1), round(seconds / cpu, 1)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument('--scenes', type=int, default=4)
  parser.add_argument('--duration', type=float, default=30.0)
  parser.add_argument('--skip-dataset', action='store_true')
  args = parser.parse_args()
  base = dataclasses.replace(render.SynthConfig(), duration=args.duration)
  result = {
      'machine': {
          'cpus': os.cpu_count(),
          'processor': platform.processor() or platform.machine(),
      },
      'scene_seconds': args.duration,
      'scenes_per_measurement': args.scenes,
      'audio_seconds_per_wall_second_one_process': {},
      'audio_seconds_per_cpu_second': {},
  }
  speeds = result['audio_seconds_per_wall_second_one_process']
  cpu_speeds = result['audio_seconds_per_cpu_second']
  for name, fmts in (
      ('foa', ('foa',)),
      ('mic', ('mic',)),
      ('foa+mic', ('foa', 'mic')),
  ):
    config = dataclasses.replace(base, formats=fmts)
    for with_video in (False, True):
      key = name + ('+video' if with_video else '')
      speeds[key], cpu_speeds[key] = _speed(config, args.scenes, with_video)
  if not args.skip_dataset:
    config = render.SynthConfig()
    with tempfile.TemporaryDirectory() as tmp:
      start = time.perf_counter()
      render.render_dataset(tmp, config, progress=False)
      wall = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result['default_dataset'] = {
        'train_scenes': config.num_train,
        'test_scenes': config.num_test,
        'scene_seconds': config.duration,
        'formats': list(config.formats),
        'workers': os.cpu_count(),
        'wall_seconds': round(wall, 1),
        'worker_cpu_seconds': round(children.ru_utime + children.ru_stime, 1),
        'audio_hours_per_format': round(
            (config.num_train + config.num_test) * config.duration / 3600, 3
        ),
    }
  print(json.dumps(result, indent=2))


if __name__ == '__main__':
  main()
