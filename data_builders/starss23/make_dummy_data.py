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

"""Writes `dummy_data/` for the starss23 builder test (deterministic).

Run from the repository root:

  python -m data_builders.starss23.make_dummy_data

Six recordings of 0.6-1.2 s (3 train in two split folders, 2 test, 1 eval),
FOA and MIC 4-channel 24 kHz int16 noise, STARSS23 CSVs with distances in cm,
and 64x32 29.97-fps videos.
"""

import pathlib
import shutil

from seld_jax.testing import dummy_data

RECORDINGS = (
    ('dev-train-sony', 'fold3_room21_mix001', 1.0),
    ('dev-train-sony', 'fold3_room21_mix002', 0.7),
    ('dev-train-tau', 'fold3_room4_mix001', 1.2),
    ('dev-test-sony', 'fold4_room23_mix001', 0.9),
    ('dev-test-tau', 'fold4_room2_mix001', 0.8),
    ('eval', 'mix001', 0.6),
)


def main():
  out = pathlib.Path(__file__).resolve().parent / 'dummy_data'
  if out.exists():
    shutil.rmtree(out)
  dummy_data.write_starss_layout(
      out, RECORDINGS, metadata_format='starss23', video=True, seed=23
  )
  print(f'Wrote {out}')


if __name__ == '__main__':
  main()
