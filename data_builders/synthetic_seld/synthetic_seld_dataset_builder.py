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

"""synthetic_seld dataset: STARSS23-style scenes rendered by `seld_jax.synth`.

Nothing is downloaded: every scene is rendered while the dataset is built,
by worker processes (`Builder.NUM_WORKERS`), from the config's seed alone, so
the same config always gives the same records. One example per scene, in the
structure every seld_jax builder writes (`seld_jax.records`): int16 4-channel
24 kHz audio, the frame-wise events (100-ms frames, 13 STARSS23 classes,
distances in metres) and, in `foa_video`, one frame of the label-drawn
360-degree video per label frame. Ids look like the STARSS23 ones:
'dev-train-synth/fold1_room1_mix001'.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from collections.abc import Sequence
from concurrent import futures
import dataclasses
import multiprocessing
import os
from typing import Any

from absl import logging
import numpy as np
import tensorflow_datasets as tfds

from seld_jax import formats
from seld_jax import records
from seld_jax import stereo_view as stereo_view_lib
from seld_jax.synth import render
from seld_jax.synth import video as video_lib

DATASET = 'synthetic_seld'
METADATA_FORMAT = 'starss23'
NUM_CHANNELS = 4
SAMPLE_RATE = 24000
LABEL_RATE = 10


@dataclasses.dataclass(eq=False, kw_only=True)
class SyntheticSeldConfig(tfds.core.BuilderConfig):
  """What a synthetic_seld config renders.

  The defaults are the embedded default dataset (`foa`): 2 h 16 min of
  training audio and 16 min of test audio, about 3 CPU-minutes to build.

  Attributes:
    audio_format: 'foa' (ACN/SN3D) or 'mic' (tetrahedral, rigid sphere)
      rendered; with `stereo_view` the FOA scene is stored as stereo.
    video: also store the label-drawn 360-degree video (with `stereo_view`,
      the view's perspective video).
    video_height: stored frame height (pixels).
    video_width: stored frame width (pixels).
    stereo_view: store a DCASE2025-style view of each FOA scene instead
      (`seld_jax.stereo_view`): one random viewing azimuth per scene,
      mid-side stereo audio, azimuth folded to [-90, 90], elevation 0,
      on-screen flags by the field of view (`hfov` and the frame's aspect),
      the DCASE2025 metadata format.
    hfov: horizontal field of view of the stereo view's camera (degrees).
    clip_seconds: with `stereo_view`, cut each scene into clips of this
      length, each seen from its own random viewing azimuth and stored as
      its own example (`<scene>_clipKK`), as the DCASE2025 set was cut from
      STARSS23 in 5-s clips; None: one view per scene.
    num_train: training scenes (fold 1); a split with no scenes is left out.
    num_test: test scenes (fold 2, in rooms not used for training).
    duration: scene length in seconds.
    seed: the dataset seed. Scene i of a split depends only on (seed, split,
      i) and its room, room r only on (seed, r): with the same seed and room
      counts, a config with more scenes begins with those of a smaller one.
    train_rooms: distinct rooms of the training scenes.
    test_rooms: distinct rooms of the test scenes.
  """

  audio_format: str = 'foa'
  video: bool = False
  video_height: int = 64
  video_width: int = 128
  stereo_view: bool = False
  hfov: float = stereo_view_lib.DEFAULT_HFOV
  clip_seconds: float | None = None
  num_train: int = 136
  num_test: int = 16
  duration: float = 60.0
  seed: int = 0
  train_rooms: int = 8
  test_rooms: int = 4

  def __post_init__(self):
    if self.audio_format not in ('foa', 'mic'):
      raise ValueError(
          f"audio_format must be 'foa' or 'mic', got {self.audio_format!r}."
      )
    if self.stereo_view and self.audio_format != 'foa':
      raise ValueError('stereo_view converts FOA scenes: audio_format=foa.')
    if self.clip_seconds is not None:
      if not self.stereo_view:
        raise ValueError('clip_seconds cuts stereo views: stereo_view=True.')
      frames = self.clip_seconds * LABEL_RATE
      if (
          self.clip_seconds <= 0
          or abs(frames - round(frames)) > 1e-9
          or (self.duration * LABEL_RATE) % round(frames)
      ):
        raise ValueError(
            'clip_seconds must be a positive whole number of label frames'
            f' (1 / {LABEL_RATE} s) dividing duration {self.duration} s, got'
            f' {self.clip_seconds}.'
        )
    if self.num_train + self.num_test < 1:
      raise ValueError('num_train + num_test must be at least 1.')
    self.synth_config()  # Validates the rest.

  def synth_config(self) -> render.SynthConfig:
    """The generator settings of this config (only its audio format)."""
    return render.SynthConfig(
        num_train=self.num_train,
        num_test=self.num_test,
        duration=self.duration,
        seed=self.seed,
        formats=(self.audio_format,),
        train_rooms=self.train_rooms,
        test_rooms=self.test_rooms,
        sample_rate=SAMPLE_RATE,
        label_rate=LABEL_RATE,
        video=self.video,
        video_size=(self.video_width, self.video_height),
    )

  @property
  def stored_format(self) -> str:
    """The audio format of the records ('stereo' for a stereo view)."""
    return 'stereo' if self.stereo_view else self.audio_format

  @property
  def num_channels(self) -> int:
    return 2 if self.stereo_view else NUM_CHANNELS

  @property
  def metadata_format(self) -> str:
    return 'dcase2025' if self.stereo_view else METADATA_FORMAT

  @property
  def vfov(self) -> float:
    return stereo_view_lib.vertical_fov(
        self.hfov, self.video_width, self.video_height
    )

  @property
  def clip_frames(self) -> int | None:
    """Label frames per clip (None: whole scenes)."""
    if self.clip_seconds is None:
      return None
    return round(self.clip_seconds * LABEL_RATE)

  def view_yaw(self, job: render.SceneJob, clip: int | None = None) -> float:
    """The viewing azimuth (degrees) of a scene's (or its clip's) view."""
    key = [self.seed, job.fold, job.room, job.mix, 25]
    rng = np.random.default_rng(key if clip is None else key + [clip])
    return float(rng.uniform(-180.0, 180.0))


def _config(name: str, description: str, **kwargs) -> SyntheticSeldConfig:
  return SyntheticSeldConfig(name=name, description=description, **kwargs)


class Builder(tfds.core.GeneratorBasedBuilder):
  """DatasetBuilder for the synthetic_seld dataset."""

  VERSION = tfds.core.Version('1.2.0')
  RELEASE_NOTES = {
      '1.0.0': 'Initial release.',
      '1.1.0': (
          'Classes drawn in inverse proportion to their mean event length'
          ' (similar active time per class; door had 7x fewer frames than'
          ' music); shorter silences inside telephone and knock events;'
          ' layer densities (0.7, 0.25, 0.1): 26 % of active frames with 2+'
          ' events instead of 39 %.'
      ),
      '1.2.0': (
          'Tonal classes made localisable: the model missed them because'
          ' pure tones carry little direction in reverberant rooms (DOA'
          ' error 28-35 deg against 6-14 for the other classes). Telephones'
          ' are electronic ringers only (overdriven dual tones, square-wave'
          ' warble and pulsed beeps; the struck-bell and melodic ringtones'
          ' sounded like the bell and instrument classes); bells get a'
          ' strike click, no church bells (indoor scenes), and end two decay'
          ' times after the last strike; instrument notes get onset'
          ' transients and breath/bow noise. New config stereo_video: a'
          ' DCASE2025-style stereo view of each scene.'
      ),
  }
  BUILDER_CONFIGS = [
      _config('foa', 'First-order Ambisonics (ACN/SN3D) audio.'),
      _config('mic', 'Tetrahedral microphone-array (rigid sphere) audio.'),
      _config(
          'foa_video',
          'FOA audio and 128x64 360-degree video frames at the label rate.',
          video=True,
      ),
      _config(
          'stereo_video',
          'DCASE2025-style stereo view of each FOA scene (random viewing'
          ' azimuth, mid-side stereo, folded azimuth, on-screen flags) and'
          ' its 128x72 perspective video (100-degree horizontal view).',
          video=True,
          stereo_view=True,
          video_height=72,
          video_width=128,
      ),
      _config(
          'stereo_video_clips',
          'stereo_video cut as DCASE2025 was cut from STARSS23: 5-s clips,'
          ' each with its own random viewing azimuth and stored as its own'
          ' example (1632 training and 192 test clips).',
          video=True,
          stereo_view=True,
          video_height=72,
          video_width=128,
          clip_seconds=5.0,
      ),
      _config(
          'foa_large',
          'FOA audio, 400 training scenes (6.7 h) and 40 test scenes.',
          num_train=400,
          num_test=40,
          train_rooms=16,
          test_rooms=8,
      ),
  ]
  DEFAULT_BUILDER_CONFIG_NAME = 'foa'

  # Processes rendering scenes; None: the CPUs this process may use. One
  # renders in this process. The records do not depend on it.
  NUM_WORKERS: int | None = None
  # Scenes rendered ahead of the writer (about 11.5 MB each per minute of
  # audio): enough to render the test split while TFDS writes the train one.
  PREFETCH = 16

  def _info(self) -> tfds.core.DatasetInfo:
    cfg = self.builder_config
    video = (cfg.video_height, cfg.video_width) if cfg.video else None
    synth = dataclasses.asdict(cfg.synth_config())
    return self.dataset_info_from_configs(
        features=records.features_dict(
            cfg.num_channels, SAMPLE_RATE, audio_dtype=np.int16, video=video
        ),
        metadata=records.dataset_metadata(
            formats.get_format(cfg.metadata_format).class_names,
            LABEL_RATE,
            cfg.metadata_format,
            dataset=DATASET,
            audio_format=cfg.stored_format,
            synth_config=synth,
        ),
        supervised_keys=None,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # Nothing to download: every scene is rendered.
    synth = self.builder_config.synth_config()
    plan = render.scene_plan(synth)
    renderer = SceneRenderer(
        synth,
        plan,
        workers=self._num_workers(len(plan)),
        prefetch=self.PREFETCH,
    )
    splits = {}
    for job in plan:
      splits.setdefault(job.split, []).append(job)
    last = list(splits)[-1]
    return {
        split: self._generate_examples(jobs, renderer, last=split == last)
        for split, jobs in splits.items()
    }

  def _num_workers(self, num_jobs: int) -> int:
    workers = self.NUM_WORKERS
    if workers is None:
      try:
        workers = len(os.sched_getaffinity(0))
      except AttributeError:  # Not on Linux.
        workers = os.cpu_count() or 1
    return max(1, min(workers, num_jobs))

  def _generate_examples(
      self,
      jobs: Sequence[render.SceneJob],
      renderer: SceneRenderer,
      last: bool,
  ) -> Iterator[tuple[str, dict[str, Any]]]:
    """Renders `jobs` and yields their records in the jobs' order.

    Args:
      jobs: the scenes of one split.
      renderer: renders scenes (shared by the splits).
      last: shut the renderer's workers down after these scenes (they stay
        up between splits, rendering ahead into the next split).

    Yields:
      (id, example).
    """
    cfg = self.builder_config
    synth = renderer.synth
    logging.info(
        '%s/%s: rendering %d %s scenes of %.1f s with %d process(es).',
        DATASET,
        cfg.name,
        len(jobs),
        jobs[0].split,
        synth.duration,
        renderer.workers,
    )
    failed = True
    try:
      for job in jobs:
        audio, table = renderer.result(job)
        audio = audio[cfg.audio_format]
        if cfg.stereo_view:
          examples = _stereo_views(cfg, job, audio, table, synth)
        elif cfg.video:
          frames = video_lib.render_frames(
              table, synth.num_frames, cfg.video_width, cfg.video_height
          )
          examples = [('', audio, table, frames, synth.num_frames)]
        else:
          examples = [('', audio, table, None, synth.num_frames)]
        for suffix, *example in examples:
          key = f'{job.subdir}/{job.name}{suffix}'
          yield key, self._example(key, job, *example)
      failed = False
    finally:
      if last or failed:
        renderer.close()

  def _example(self, key, job, audio, table, frames, num_frames):
    """The record of one scene (or clip)."""
    cfg = self.builder_config
    return records.example_from(
        id=key,
        audio=audio,
        sample_rate=SAMPLE_RATE,
        events=table,
        num_frames=num_frames,
        video=frames,
        provenance={
            'dataset': DATASET,
            'fold': job.fold,
            'room': job.room,
            'format': cfg.stored_format,
            'split_folder': job.subdir,
            'labeled': True,
            # The int16 samples a PCM_16 wav of the scene would hold.
            'pcm_subtype': 'PCM_16',
        },
    )


def _stereo_views(cfg, job, audio, table, synth):
  """[(id suffix, int16 stereo [N, 2], labels, frames or None, frames)].

  One view of the whole scene, or with `clip_seconds` one per clip (`_clipKK`,
  frames and samples counted from the clip's start), each from its own
  viewing azimuth.
  """
  foa = audio.astype(np.float64)
  # 1 degree per pixel of 360-degree video, then the camera's view of it.
  full = (
      video_lib.render_frames(table, synth.num_frames, 360, 180)
      if cfg.video
      else None
  )
  clips = cfg.clip_frames is not None
  n = cfg.clip_frames if clips else synth.num_frames
  per_frame = synth.sample_rate // LABEL_RATE
  views = []
  for k in range(synth.num_frames // n):
    lo = k * n
    rows = table.select((table.frame >= lo) & (table.frame < lo + n))
    rows = rows.replace(frame=rows.frame - lo, num_frames=n)
    view = _stereo_view(
        cfg,
        cfg.view_yaw(job, k if clips else None),
        foa[lo * per_frame : (lo + n) * per_frame],
        rows,
        None if full is None else full[lo : lo + n],
    )
    views.append((f'_clip{k:02d}' if clips else '', *view, n))
  return views


def _stereo_view(cfg, yaw, foa, table, full):
  """(int16 stereo [N, 2], view labels, perspective frames or None)."""
  stereo = stereo_view_lib.mid_side_stereo(stereo_view_lib.rotate_foa(foa, yaw))
  stereo = np.clip(np.rint(stereo), -32768, 32767).astype(np.int16)
  frames = None
  if full is not None:
    frames = stereo_view_lib.perspective_frames(
        full, yaw, cfg.hfov, cfg.video_width, cfg.video_height
    )
  return (
      stereo,
      stereo_view_lib.view_labels(table, yaw, cfg.hfov, cfg.vfov),
      frames,
  )


class SceneRenderer:
  """Renders the scenes of a plan in worker processes, ahead of the reader.

  `result(job)` returns `render.render_job(synth, job)`; it is a pure
  function of (synth, job), so the workers and their order change nothing
  in the records. Scenes are submitted in plan order, at most `prefetch`
  ahead of the ones read, so the workers keep rendering (into the next
  split) while TFDS writes the shards of the previous one.
  """

  def __init__(
      self,
      synth: render.SynthConfig,
      plan: Sequence[render.SceneJob],
      workers: int,
      prefetch: int,
  ):
    self.synth = synth
    self.workers = workers
    self._prefetch = max(prefetch, workers)
    self._todo = collections.deque(plan)
    self._pending: dict[render.SceneJob, futures.Future] = {}
    self._pool = None

  def _submit(self, job: render.SceneJob) -> None:
    if self._pool is None:
      # 'spawn': the builder may run in a process with TensorFlow or JAX
      # threads, which 'fork' must not copy.
      self._pool = futures.ProcessPoolExecutor(
          self.workers, mp_context=multiprocessing.get_context('spawn')
      )
    self._pending[job] = self._pool.submit(render.render_job, self.synth, job)

  def result(self, job: render.SceneJob):
    """({format: int16 [num_samples, 4]}, EventTable) of one scene."""
    if self.workers <= 1:
      return render.render_job(self.synth, job)
    if job not in self._pending:
      if job in self._todo:
        self._todo.remove(job)
      self._submit(job)
    while self._todo and len(self._pending) < self._prefetch:
      self._submit(self._todo.popleft())
    try:
      return self._pending.pop(job).result()
    except futures.BrokenExecutor as e:
      raise RuntimeError(
          'A scene-rendering worker process died. Workers are started with '
          "'spawn', which imports the main module again: a script that "
          "builds the dataset must do so under `if __name__ == '__main__':`. "
          'Otherwise the worker may have run out of memory; set '
          f'{Builder.__module__}.Builder.NUM_WORKERS = 1 to render in this '
          'process.'
      ) from e

  def close(self) -> None:
    """Stops the workers (pending scenes are dropped)."""
    if self._pool is not None:
      self._pool.shutdown(wait=True, cancel_futures=True)
      self._pool = None
    self._pending.clear()
