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

"""Per-recording plots: class activity, azimuth and elevation over time.

Reference events (when given) are drawn as wide grey marks under the
predictions, so misses, false alarms and direction errors are visible at a
glance. Rendering uses matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import io
import os
import pathlib

import matplotlib

matplotlib.use('Agg')
from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

from seld_jax import events as events_lib

EventTable = events_lib.EventTable


def _figure(
    pred: EventTable,
    ref: EventTable | None,
    num_classes: int,
    class_names,
    title: str,
    num_frames: int | None,
):
  rate = pred.label_rate if ref is None else ref.label_rate
  fig, axes = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True)
  cmap = plt.get_cmap('tab20', max(num_classes, 1))
  panels = [
      ('class', lambda t: t.class_index, (-0.5, num_classes - 0.5)),
      ('azimuth (°)', lambda t: t.azimuth, (-180, 180)),
      ('elevation (°)', lambda t: t.elevation, (-90, 90)),
  ]
  for ax, (label, value, lim) in zip(axes, panels):
    if ref is not None and len(ref):
      ax.scatter(
          ref.frame / rate,
          value(ref),
          s=22,
          marker='s',
          color='0.8',
          label='reference',
          linewidths=0,
      )
    if len(pred):
      ax.scatter(
          pred.frame / rate,
          value(pred),
          s=5,
          c=[cmap(c) for c in pred.class_index],
          label='prediction',
          linewidths=0,
      )
    ax.set_ylabel(label)
    ax.set_ylim(*lim)
    ax.grid(alpha=0.3)
  names = class_names or [str(i) for i in range(num_classes)]
  axes[0].set_yticks(range(num_classes))
  axes[0].set_yticklabels(
      [names[i] if i < len(names) else str(i) for i in range(num_classes)],
      fontsize=7,
  )
  axes[1].set_yticks([-180, -90, 0, 90, 180])
  axes[2].set_yticks([-90, -45, 0, 45, 90])
  axes[-1].set_xlabel('time (s)')
  if num_frames:
    axes[-1].set_xlim(0, num_frames / rate)
  if ref is not None:
    axes[0].legend(loc='upper right', fontsize=7)
  fig.suptitle(title)
  fig.tight_layout()
  return fig


def render_png(
    pred: EventTable,
    ref: EventTable | None = None,
    *,
    num_classes: int = 13,
    class_names=None,
    title: str = '',
    num_frames: int | None = None,
) -> bytes:
  """The plot as PNG bytes."""
  fig = _figure(pred, ref, num_classes, class_names, title, num_frames)
  buf = io.BytesIO()
  fig.savefig(buf, format='png', dpi=80)
  plt.close(fig)
  return buf.getvalue()


def render_array(pred, ref=None, **kwargs) -> np.ndarray:
  """The plot as an RGB uint8 array [H, W, 3] (for TensorBoard images)."""
  fig = _figure(
      pred,
      ref,
      kwargs.get('num_classes', 13),
      kwargs.get('class_names'),
      kwargs.get('title', ''),
      kwargs.get('num_frames'),
  )
  fig.canvas.draw()
  image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
  plt.close(fig)
  return image


def save_png(path: str | os.PathLike, pred, ref=None, **kwargs) -> None:
  """Writes the plot to `path` atomically."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_name(f'.{path.name}.tmp')
  tmp.write_bytes(render_png(pred, ref, **kwargs))
  os.replace(tmp, path)
