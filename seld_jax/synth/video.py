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

"""Equirectangular 360-degree video drawn from the labels.

Frame f (one per 100-ms label frame) shows every event active in label frame
f as a class-coloured, class-shaped blob centred at its labelled direction:

  column = W (0.5 - azimuth / 360),   row = H (0.5 - elevation / 180)

(azimuth counter-clockwise: +90 degrees is left of the frame centre; pixel j
spans [j, j + 1)). The blob radius is H / 16 pixels at 1 m and shrinks as
1 / distance (3 to H / 8 pixels); nearer events are drawn over farther ones;
blobs wrap around the left/right edge. All shapes are point-symmetric, so a
blob's centroid is its labelled position. In a 360-degree equirectangular
video every event is on screen, so all active events are drawn.

`write_mp4` stores the frames as H.264 (yuv420p) at 30 fps, each label frame
repeated three times, so frame 3f is label frame f, the way the STARSS23
builders subsample the 29.97-fps dataset videos.
"""

from __future__ import annotations

import fractions
import functools
import os

import av
import numpy as np

from seld_jax import events as events_lib
from seld_jax.synth import files

# One colour per STARSS class (RGB), far apart in hue/brightness.
CLASS_COLOURS = np.array(
    [
        (255, 60, 60),  # female speech: red
        (60, 110, 255),  # male speech: blue
        (255, 220, 0),  # clapping: yellow
        (0, 220, 110),  # telephone: green
        (255, 120, 230),  # laughter: pink
        (255, 140, 0),  # domestic sounds: orange
        (150, 255, 60),  # footsteps: lime
        (150, 70, 255),  # door: violet
        (0, 230, 255),  # music: cyan
        (255, 255, 255),  # musical instrument: white
        (0, 140, 140),  # water tap: teal
        (190, 0, 110),  # bell: magenta
        (130, 70, 20),  # knock: brown
    ],
    np.uint8,
)
SHAPES = ('disc', 'square', 'diamond', 'ring', 'plus', 'cross', 'octagon')
CLASS_SHAPES = tuple(SHAPES[c % len(SHAPES)] for c in range(len(CLASS_COLOURS)))


def pixel_position(azimuth, elevation, width: int, height: int):
  """(column, row) in pixels of directions in degrees."""
  col = width * (0.5 - np.asarray(azimuth, np.float64) / 360.0)
  row = height * (0.5 - np.asarray(elevation, np.float64) / 180.0)
  return np.mod(col, width), row


def blob_radius(distance, height: int):
  """Blob radius in pixels: H / 16 at 1 m, as 1 / distance, 3 .. H / 8."""
  d = np.asarray(distance, np.float64)
  base = height / 16.0
  r = np.where(np.isnan(d), base, base / np.maximum(d, 1e-3))
  return np.clip(r, 3.0, height / 8.0)


@functools.lru_cache(maxsize=4)
def background(width: int, height: int) -> np.ndarray:
  """A dim, grey equirectangular room: lighter floor, faint 30-degree grid."""
  rows = (np.arange(height) + 0.5) / height
  img = np.empty((height, width, 3), np.float64)
  shade = np.where(rows < 0.5, 45 + 20 * rows, 70 - 20 * (rows - 0.5))
  img[:] = shade[:, None, None]
  for k in range(1, 12):
    img[:, int(round(k * width / 12)) % width] += 12
  for k in range(1, 6):
    img[int(round(k * height / 6)) % height, :] += 12
  return np.clip(img, 0, 255).astype(np.uint8)


def _shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray, r: float):
  ax, ay = np.abs(dx), np.abs(dy)
  if shape == 'disc':
    return dx**2 + dy**2 <= r**2
  if shape == 'square':
    return np.maximum(ax, ay) <= 0.85 * r
  if shape == 'diamond':
    return ax + ay <= 1.2 * r
  if shape == 'ring':
    d2 = dx**2 + dy**2
    return (d2 <= r**2) & (d2 >= (0.5 * r) ** 2)
  if shape == 'plus':
    w = max(0.35 * r, 1.0)
    return ((ax <= w) & (ay <= r)) | ((ay <= w) & (ax <= r))
  if shape == 'cross':
    w = max(0.3 * r, 1.0)
    return (np.abs(dx - dy) <= w * 1.4) & (ax <= 0.8 * r) & (ay <= 0.8 * r) | (
        (np.abs(dx + dy) <= w * 1.4) & (ax <= 0.8 * r) & (ay <= 0.8 * r)
    )
  # octagon
  return np.maximum(np.maximum(ax, ay), (ax + ay) / 1.4) <= 0.9 * r


def draw_blob(
    frame: np.ndarray, class_index: int, col: float, row: float, radius: float
) -> None:
  """Draws one class blob centred at (col, row) into frame [H, W, 3]."""
  height, width = frame.shape[:2]
  reach = int(np.ceil(radius)) + 1
  rows = np.arange(int(np.floor(row)) - reach, int(np.floor(row)) + reach + 1)
  rows = rows[(rows >= 0) & (rows < height)]
  cols = np.arange(int(np.floor(col)) - reach, int(np.floor(col)) + reach + 1)
  if not len(rows):
    return
  dy = rows[:, None] + 0.5 - row
  dx = cols[None, :] + 0.5 - col
  mask = _shape_mask(CLASS_SHAPES[class_index], dx, dy, radius)
  rr, cc = np.nonzero(mask)
  frame[rows[rr], np.mod(cols[cc], width)] = CLASS_COLOURS[class_index]


def render_frames(
    table: events_lib.EventTable,
    num_frames: int | None = None,
    width: int = 320,
    height: int = 160,
) -> np.ndarray:
  """One uint8 RGB frame [num_frames, H, W, 3] per label frame of `table`."""
  if num_frames is None:
    num_frames = table.num_frames or table.last_frame() + 1
  frames = np.broadcast_to(
      background(width, height), (num_frames, height, width, 3)
  ).copy()
  cols, rows = pixel_position(table.azimuth, table.elevation, width, height)
  radii = blob_radius(table.distance, height)
  # Far events first, so nearer ones are drawn on top.
  dist = np.nan_to_num(table.distance, nan=1.0)
  for i in np.lexsort((-dist, table.frame)):
    f = table.frame[i]
    if 0 <= f < num_frames:
      draw_blob(
          frames[f], int(table.class_index[i]), cols[i], rows[i], radii[i]
      )
  return frames


def write_mp4(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: int = 30,
    label_rate: int = 10,
    crf: int = 18,
) -> None:
  """Writes label-rate frames [F, H, W, 3] as an H.264 mp4, atomically.

  Each frame is repeated fps / label_rate times. For identical bytes from run
  to run, x264 runs single-threaded, the colour conversion is numpy's, and
  every picture is a fresh frame with an explicit timestamp (re-sending one
  frame object to FFmpeg's scaler and encoder gave rare one-packet
  differences). One difference remains, not reproduced in isolation: in
  about one dataset file in a hundred (1 of 90 in 30 three-scene renders,
  three at a time; 0 of 440 encodes of that file's frames alone) the first
  packet is coded a few bytes differently, so the decoded frames differ by
  at most 2 levels in 0.03 % of the pixel values.
  """
  if fps % label_rate:
    raise ValueError(f'fps {fps} is not a multiple of label_rate {label_rate}')
  with (
      files.atomic_path(path) as tmp,
      av.open(tmp, mode='w', format='mp4') as container,
  ):
    stream = container.add_stream('libx264', rate=fps)
    stream.width = frames.shape[2]
    stream.height = frames.shape[1]
    stream.pix_fmt = 'yuv420p'
    stream.codec_context.options = {
        'crf': str(crf),
        'preset': 'veryfast',
        'threads': '1',
    }
    stream.codec_context.thread_count = 1
    k = 0
    yuv = previous = None
    for frame in frames:
      if previous is None or not np.array_equal(frame, previous):
        yuv = rgb_to_yuv420p(frame)
      previous = frame
      for _ in range(fps // label_rate):
        # A fresh frame per picture with an explicit timestamp: the encoder
        # buffers frames (B-frames, lookahead), so none may be reused.
        vf = av.VideoFrame.from_ndarray(yuv, format='yuv420p')
        vf.pts = k
        vf.time_base = fractions.Fraction(1, fps)
        container.mux(stream.encode(vf))
        k += 1
    container.mux(stream.encode(None))


def rgb_to_yuv420p(rgb: np.ndarray) -> np.ndarray:
  """uint8 RGB [H, W, 3] -> planar BT.601 limited-range yuv420p [H*3/2, W].

  Done here rather than by the FFmpeg scaler, so the encoder input is plain,
  reproducible numpy arithmetic.
  """
  height, width = rgb.shape[:2]
  x = rgb.astype(np.float32)
  r, g, b = x[..., 0], x[..., 1], x[..., 2]
  y = 16.0 + 0.257 * r + 0.504 * g + 0.098 * b
  # Chroma of the 2x2-averaged colour (the conversion is linear).
  x = 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])
  r, g, b = x[..., 0], x[..., 1], x[..., 2]
  u = 128.0 - 0.148 * r - 0.291 * g + 0.439 * b
  v = 128.0 + 0.439 * r - 0.368 * g - 0.071 * b
  planes = np.concatenate([y.ravel(), u.ravel(), v.ravel()])
  planes = planes.reshape(height * 3 // 2, width)
  return np.clip(np.rint(planes), 0, 255).astype(np.uint8)


def read_mp4(path: str | os.PathLike) -> np.ndarray:
  """Decodes an mp4 to uint8 RGB frames [F, H, W, 3] (all frames)."""
  with av.open(str(path)) as container:
    return np.stack(
        [f.to_ndarray(format='rgb24') for f in container.decode(video=0)]
    )
