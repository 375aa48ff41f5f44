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

"""Writes `dummy_data/` for the tau_nigens_2021 builder test (deterministic).

Run from the repository root:

  python -m data_builders.tau_nigens_2021.make_dummy_data

Five recordings of 0.6-1.0 s (2 dev-train, 1 dev-val, 1 dev-test, 1 labelled
eval), FOA and MIC 4-channel 24 kHz int16 noise, DCASE2021 CSVs.
"""

import pathlib
import shutil

from seld_jax.testing import dummy_data

RECORDINGS = (
    ('dev-train', 'fold1_room1_mix001', 1.0),
    ('dev-train', 'fold2_room1_mix002', 0.8),
    ('dev-val', 'fold5_room1_mix001', 0.7),
    ('dev-test', 'fold6_room2_mix001', 0.9),
    ('eval', 'mix001', 0.6),
)


def main():
  out = pathlib.Path(__file__).resolve().parent / 'dummy_data'
  if out.exists():
    shutil.rmtree(out)
  dummy_data.write_starss_layout(
      out,
      RECORDINGS,
      metadata_format='dcase2021',
      video=False,
      eval_labels=True,
      seed=21,
  )
  print(f'Wrote {out}')


if __name__ == '__main__':
  main()
