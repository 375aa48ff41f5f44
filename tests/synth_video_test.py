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

"""The 360-degree video shows each event at its labelled direction."""

import numpy as np

from seld_jax import events as events_lib
from seld_jax.synth import render
from seld_jax.synth import scenes
from seld_jax.synth import video

W, H = 320, 160


def _blob_centre(frame, class_index):
  """Centroid (column, row) of the pixels of a class colour, and their count."""
  colour = video.CLASS_COLOURS[class_index].astype(np.float64)
  mask = np.linalg.norm(frame.astype(np.float64) - colour, axis=-1) < 60
  rows, cols = np.nonzero(mask)
  if not len(rows):
    return np.nan, np.nan, 0
  return cols.mean() + 0.5, rows.mean() + 0.5, len(rows)


def test_decoded_video_blobs_sit_at_labelled_directions(tmp_path):
  config = render.SynthConfig(duration=3.0, formats=('foa',), reverb=False)
  one_second = np.ones(2 * 24000)
  events = [
      scenes.Event(  # static, front-left and up
          class_index=3,
          onset=0,
          signal=one_second,
          azimuth=70.0,
          elevation=25.0,
          distance=1.0,
      ),
      scenes.Event(  # moving to the right and down, farther away
          class_index=0,
          onset=12000,
          signal=one_second,
          azimuth=-20.0,
          elevation=10.0,
          distance=2.0,
          azimuth_speed=-40.0,
          elevation_speed=-10.0,
          elevation_range=(-45.0, 45.0),
      ),
  ]
  _, table = render.render_events(config, events, 0, None)
  frames = video.render_frames(table, config.num_frames, W, H)
  assert frames.shape == (config.num_frames, H, W, 3)
  path = tmp_path / 'scene.mp4'
  video.write_mp4(path, frames, fps=30)
  decoded = video.read_mp4(path)
  assert decoded.shape == (3 * config.num_frames, H, W, 3)  # 30 fps
  checked = 0
  for i in range(len(table)):
    f, c = table.frame[i], table.class_index[i]
    col, row = video.pixel_position(table.azimuth[i], table.elevation[i], W, H)
    for repeat in range(3):  # every third frame is label frame f
      got_col, got_row, count = _blob_centre(decoded[3 * f + repeat], c)
      assert abs(got_col - col) < 1.0 and abs(got_row - row) < 1.0, (i, f)
      assert count > 20
    checked += 1
  assert checked == len(table) == 40
  # No blob in frames without events (frame 25+: both events over).
  assert _blob_centre(decoded[3 * 26], 3)[2] == 0
  # +90 degrees azimuth is left of the centre; nearer blobs are bigger.
  col, _ = video.pixel_position(90.0, 0.0, W, H)
  assert col == W / 4
  assert video.blob_radius(1.0, H) > video.blob_radius(2.0, H)


def test_blob_wraps_around_the_seam():
  table = events_lib.EventTable.from_columns(
      [0], [8], [179.0], [0.0], source=[0], distance=[0.5], num_frames=1
  )
  frame = video.render_frames(table, 1, W, H)[0]
  mask = np.all(frame == video.CLASS_COLOURS[8], axis=-1)
  cols = np.nonzero(mask.any(0))[0]
  assert cols.min() == 0 and cols.max() == W - 1  # on both edges
