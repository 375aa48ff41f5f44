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

"""Writes `dummy_data/` for the tau_nigens_2020 builder test (deterministic).

Run from the repository root:

  python -m data_builders.tau_nigens_2020.make_dummy_data

Five recordings of 0.6-0.9 s in the flat layout (folds 1, 1, 2, 3 and an
unlabelled eval file), FOA and MIC 4-channel 24 kHz int16 noise, DCASE2020
CSVs.
"""

import pathlib
import shutil

from seld_jax.testing import dummy_data

RECORDINGS = (
    ('', 'fold1_room1_mix001_ov1', 0.8),
    ('', 'fold1_room1_mix002_ov2', 0.7),
    ('', 'fold2_room2_mix001_ov1', 0.9),
    ('', 'fold3_room1_mix001_ov2', 0.6),
    ('eval', 'mix001', 0.6),
)


def main():
  out = pathlib.Path(__file__).resolve().parent / 'dummy_data'
  if out.exists():
    shutil.rmtree(out)
  dummy_data.write_starss_layout(
      out,
      RECORDINGS,
      metadata_format='dcase2020',
      video=False,
      seed=20,
  )
  print(f'Wrote {out}')


if __name__ == '__main__':
  main()
