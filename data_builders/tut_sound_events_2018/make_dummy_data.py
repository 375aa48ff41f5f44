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

"""Writes `dummy_data/` for the tut_sound_events_2018 test (deterministic).

Run from the repository root:

  python -m data_builders.tut_sound_events_2018.make_dummy_data

Each of the 7 variants gets 5 recordings of 0.2-0.3 s at 44.1 kHz int16
noise (4 channels, 8 for the circular-array CANSYN/CRESYN): 2 train and 1
test file in ov1/split1, 1 train and 1 test file in ov2/split3, desc files of
its kind (static synthetic, static with UrbanSound names, moving synthetic,
moving real).
"""

import pathlib
import shutil

from seld_jax.testing import dummy_data

# folder, channels, desc kind
VARIANTS = (
    ('ANSYN', 4, 'static'),
    ('RESYN', 4, 'static'),
    ('REAL', 4, 'real'),
    ('CANSYN', 8, 'static'),
    ('CRESYN', 8, 'static'),
    ('MANSYN', 4, 'moving'),
    ('MREAL', 4, 'moving_real'),
)
RECORDINGS = (
    (1, 1, 'train_0', 0.3),
    (1, 1, 'train_1', 0.2),
    (1, 1, 'test_0', 0.25),
    (2, 3, 'train_0', 0.2),
    (2, 3, 'test_0', 0.2),
)


def main():
  out = pathlib.Path(__file__).resolve().parent / 'dummy_data'
  if out.exists():
    shutil.rmtree(out)
  for i, (folder, channels, kind) in enumerate(VARIANTS):
    dummy_data.write_tut_layout(
        out / folder,
        RECORDINGS,
        kind=kind,
        num_channels=channels,
        seed=180 + 10 * i,
    )
  print(f'Wrote {out}')


if __name__ == '__main__':
  main()
