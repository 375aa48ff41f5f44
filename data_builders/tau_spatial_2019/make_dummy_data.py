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

"""Writes `dummy_data/` for the tau_spatial_2019 builder test (deterministic).

Run from the repository root:

  python -m data_builders.tau_spatial_2019.make_dummy_data

Four recordings of 0.5-0.8 s in the flat layout (splits 1, 1, 2 and an
unlabelled eval file), FOA and MIC 4-channel 48 kHz int16 noise, DCASE2019
CSVs (class names, time segments).
"""

import pathlib
import shutil

from seld_jax.testing import dummy_data

RECORDINGS = (
    ('', 'split1_ir0_ov1_1', 0.8),
    ('', 'split1_ir1_ov2_2', 0.6),
    ('', 'split2_ir2_ov1_3', 0.7),
    ('eval', 'split0_1', 0.5),
)


def main():
  out = pathlib.Path(__file__).resolve().parent / 'dummy_data'
  if out.exists():
    shutil.rmtree(out)
  dummy_data.write_starss_layout(
      out,
      RECORDINGS,
      metadata_format='dcase2019',
      sample_rate=48000,
      video=False,
      seed=19,
  )
  print(f'Wrote {out}')


if __name__ == '__main__':
  main()
