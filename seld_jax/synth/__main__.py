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

r"""Renders a synthetic STARSS23-format dataset.

  python -m seld_jax.synth --out DIR [--formats foa,mic] [--num-train N] \
      [--num-test M] [--duration SECONDS] [--seed K] [--video] \
      [--sources DIR] [--workers P]

writes DIR/{foa_dev,mic_dev,metadata_dev[,video_dev]}/dev-{train,test}-synth/
fold{1,2}_room{R}_mix{M}.{wav,csv,mp4} (see `seld_jax.synth.render`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from absl import logging

from seld_jax.synth import render

_DEFAULTS = render.SynthConfig()


def _pair(text: str) -> tuple[float, float]:
  try:
    lo, hi = (float(v) for v in text.split(','))
  except ValueError:
    raise argparse.ArgumentTypeError(
        f'expected LOW,HIGH (two numbers), got {text!r}'
    ) from None
  return lo, hi


def _size(text: str) -> tuple[int, int]:
  try:
    width, height = (int(v) for v in text.lower().split('x'))
  except ValueError:
    raise argparse.ArgumentTypeError(
        f'expected WIDTHxHEIGHT, got {text!r}'
    ) from None
  return width, height


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
      prog='python -m seld_jax.synth',
      description=(
          'Render synthetic SELD scenes in the STARSS23 layout (24 kHz, '
          '4-channel int16 wavs, 6-column metadata CSVs, optional 360-degree '
          'mp4 video).'
      ),
  )
  p.add_argument(
      '--out', required=True, metavar='DIR', help='dataset root to write'
  )
  p.add_argument(
      '--formats',
      default=','.join(_DEFAULTS.formats),
      help='comma-separated subset of foa,mic (default: %(default)s)',
  )
  p.add_argument(
      '--num-train',
      type=int,
      default=_DEFAULTS.num_train,
      metavar='N',
      help='train scenes, fold 1 (default: %(default)s)',
  )
  p.add_argument(
      '--num-test',
      type=int,
      default=_DEFAULTS.num_test,
      metavar='M',
      help='test scenes, fold 2 (default: %(default)s)',
  )
  p.add_argument(
      '--duration',
      type=float,
      default=_DEFAULTS.duration,
      metavar='SECONDS',
      help='scene length in seconds (default: %(default)s)',
  )
  p.add_argument(
      '--seed',
      type=int,
      default=_DEFAULTS.seed,
      metavar='K',
      help='dataset seed (default: %(default)s)',
  )
  p.add_argument('--video', action='store_true', help='also write video_dev')
  p.add_argument(
      '--video-size',
      type=_size,
      default=_DEFAULTS.video_size,
      metavar='WxH',
      help='size of the equirectangular video (default: 320x160)',
  )
  p.add_argument(
      '--sources',
      default=None,
      metavar='DIR',
      help=(
          'folder of per-class clip folders (femaleSpeech, maleSpeech, '
          'clapping, telephone, laughter, doorCupboard, music, '
          'musicInstrument, waterTap, ...); classes without one stay '
          'procedural'
      ),
  )
  p.add_argument(
      '--rt60',
      type=_pair,
      default=_DEFAULTS.rt60_range,
      metavar='LO,HI',
      help='room RT60 range in seconds (default: 0.2,0.8)',
  )
  p.add_argument(
      '--snr',
      type=_pair,
      default=_DEFAULTS.snr_range,
      metavar='LO,HI',
      help='ambient-noise SNR range in dB (default: 10,30)',
  )
  p.add_argument('--no-reverb', action='store_true', help='direct sound only')
  p.add_argument(
      '--workers',
      type=int,
      default=None,
      metavar='P',
      help='parallel processes (default: the number of CPUs)',
  )
  p.add_argument('--quiet', action='store_true', help='no progress bar')
  return p


def main(argv: list[str] | None = None) -> int:
  parser = _parser()
  args = parser.parse_args(argv)
  if args.sources is not None and not os.path.isdir(args.sources):
    parser.error(f'--sources: {args.sources!r} is not a folder')
  if args.workers is not None and args.workers < 1:
    parser.error('--workers must be >= 1')
  formats = tuple(f.strip() for f in args.formats.split(',') if f.strip())
  try:
    config = dataclasses.replace(
        _DEFAULTS,
        formats=formats,
        num_train=args.num_train,
        num_test=args.num_test,
        duration=args.duration,
        seed=args.seed,
        video=args.video,
        video_size=args.video_size,
        sources_dir=args.sources,
        rt60_range=args.rt60,
        snr_range=args.snr,
        reverb=not args.no_reverb,
    )
  except ValueError as e:
    parser.error(str(e))
  if config.num_train + config.num_test == 0:
    parser.error('nothing to render: --num-train and --num-test are both 0')
  logging.set_verbosity(logging.INFO)
  render.render_dataset(
      args.out, config, workers=args.workers, progress=not args.quiet
  )
  return 0


if __name__ == '__main__':
  sys.exit(main())
