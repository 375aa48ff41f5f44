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

"""Writes `dummy_data/` for the dcase2025_stereo builder test (deterministic).

Run from the repository root:

  python -m data_builders.dcase2025_stereo.make_dummy_data

Four clips of 0.6-1.0 s (2 train, 1 test, 1 eval under `stereo_eval/eval/`
without labels), 2-channel 24 kHz int16 noise, DCASE2025 CSVs (header,
front-folded azimuth, distance in cm, on-screen flag) and 64x32 videos.
"""

import pathlib
import shutil

from seld_jax.testing import dummy_data

RECORDINGS = (
    ('dev-train-sony', 'fold3_room21_mix001_000', 1.0),
    ('dev-train-tau', 'fold3_room4_mix002_001', 0.8),
    ('dev-test-sony', 'fold4_room23_mix001_000', 0.9),
)
EVAL = (('eval', 'mix001', 0.6),)


def main():
  out = pathlib.Path(__file__).resolve().parent / 'dummy_data'
  if out.exists():
    shutil.rmtree(out)
  dummy_data.write_starss_layout(
      out,
      RECORDINGS,
      audio_formats=('stereo',),
      metadata_format='dcase2025',
      num_channels=2,
      video=True,
      seed=25,
  )
  # The DCASE2025 evaluation audio sits in an `eval/` sub-folder.
  dummy_data.write_starss_layout(
      out / '_eval',
      EVAL,
      audio_formats=('stereo',),
      metadata_format='dcase2025',
      num_channels=2,
      video=True,
      seed=26,
  )
  for kind in ('stereo', 'video'):
    (out / f'{kind}_eval').mkdir()
    shutil.move(out / '_eval' / f'{kind}_eval', out / f'{kind}_eval' / 'eval')
  shutil.rmtree(out / '_eval')
  print(f'Wrote {out}')


if __name__ == '__main__':
  main()
