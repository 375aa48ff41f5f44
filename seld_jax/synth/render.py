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

"""Scene rendering: the configuration, one scene in memory, a whole dataset.

`render_scene(config, seed)` returns the int16 audio of every configured
format and the `EventTable` of one scene, without touching the disk.
`render_dataset(out_dir, config)` writes the STARSS23 layout:

  foa_dev/dev-{train,test}-synth/fold{F}_room{R}_mix{M:03d}.wav   4 ch, int16
  mic_dev/dev-{train,test}-synth/...wav                          4 ch, int16
  metadata_dev/dev-{train,test}-synth/...csv   frame,class,source,azimuth,
                                               elevation,distance (cm)
  video_dev/dev-{train,test}-synth/...mp4      with `video=True`

Train scenes are fold 1 in rooms 1..train_rooms, test scenes fold 2 in rooms
train_rooms+1..train_rooms+test_rooms; the mix number counts scenes per room.
A room (size, RT60) is drawn from (seed, room number) and shared by its
scenes; everything else is drawn from (seed, split, scene index), so any scene
can be rendered alone, in any order or in parallel, with identical bytes
(the mp4s, rarely, with frames equal to within 2 levels: see
`video.write_mp4`).
Every file is written to a temporary sibling and renamed into place.

In memory (e.g. for a TFDS builder):

  config = render.SynthConfig()
  for job in render.scene_plan(config):          # name, split, fold, room
    audio, table = render.render_job(config, job)  # {'foa'|'mic': int16}
    frames = video.render_frames(table, config.num_frames, *config.video_size)
"""

from __future__ import annotations

from concurrent import futures
import dataclasses
import multiprocessing
import os
import pathlib
import time

from absl import logging
import numpy as np
import soundfile
import tqdm

from seld_jax import events as events_lib
from seld_jax import formats
from seld_jax.synth import files
from seld_jax.synth import noise as noise_lib
from seld_jax.synth import room as room_lib
from seld_jax.synth import scenes
from seld_jax.synth import sources
from seld_jax.synth import spatial
from seld_jax.synth import video

SPLITS = {'train': ('dev-train-synth', 1), 'test': ('dev-test-synth', 2)}


@dataclasses.dataclass(frozen=True)
class SynthConfig:
  """Every knob of the generator (defaults: the embedded default dataset).

  Attributes:
    num_train, num_test: scenes per split.
    duration: scene length in seconds.
    seed: dataset seed (scene and room seeds derive from it).
    formats: subset of ('foa', 'mic').
    train_rooms, test_rooms: distinct rooms per split.
    classes: class indices to draw events from.
    max_polyphony: most simultaneous events (1..len(layer_density)).
    layer_density: fraction of time each event layer is busy.
    same_class_prob: chance that a layer-2/3 event copies a sounding class.
    moving_prob: chance that an event moves (footsteps: twice; door, water
      tap, knock never).
    angular_speed_range: |azimuth speed| of moving events, deg/s.
    elevation_range: event elevations, degrees.
    distance_range: event distances, metres.
    level_range_db: event levels at 1 m, dB.
    reverb: room reverberation on/off (off: direct path only).
    rt60_range: RT60 of the rooms, seconds.
    room_size_range: ((x lo, hi), (y lo, hi), (z lo, hi)) in metres.
    ism_order: image-source reflection order.
    snr_range: ambient-noise SNR in dB (event power over active frames).
    mic_model: 'rigid' (rigid-sphere array) or 'open' (free-field omnis).
    block_seconds: block hop of moving-source rendering.
    target_rms_dbfs: scene level before the peak limit (0.99 full scale).
    sample_rate: Hz.
    label_rate: label frames per second (STARSS: 10).
    sources_dir: per-class folders of real clips (None: procedural only).
    video: also render the 360-degree video.
    video_size: (width, height) of the equirectangular video.
    video_fps: frames per second of the mp4 (a multiple of label_rate).
  """

  num_train: int = 40
  num_test: int = 12
  duration: float = 30.0
  seed: int = 0
  formats: tuple[str, ...] = ('foa', 'mic')
  train_rooms: int = 4
  test_rooms: int = 2
  classes: tuple[int, ...] = tuple(range(sources.NUM_CLASSES))
  max_polyphony: int = 3
  layer_density: tuple[float, ...] = (0.7, 0.25, 0.1)
  same_class_prob: float = 0.25
  moving_prob: float = 0.4
  angular_speed_range: tuple[float, float] = (10.0, 40.0)
  elevation_range: tuple[float, float] = (-45.0, 45.0)
  distance_range: tuple[float, float] = (0.5, 5.0)
  level_range_db: tuple[float, float] = (-8.0, 0.0)
  reverb: bool = True
  rt60_range: tuple[float, float] = (0.2, 0.8)
  room_size_range: tuple[tuple[float, float], ...] = (
      (4.0, 10.0),
      (3.0, 8.0),
      (2.5, 4.0),
  )
  ism_order: int = 3
  snr_range: tuple[float, float] = (10.0, 30.0)
  mic_model: str = 'rigid'
  block_seconds: float = 0.05
  target_rms_dbfs: float = -26.0
  sample_rate: int = 24000
  label_rate: int = 10
  sources_dir: str | None = None
  video: bool = False
  video_size: tuple[int, int] = (320, 160)
  video_fps: int = 30

  def __post_init__(self):
    object.__setattr__(self, 'formats', tuple(self.formats))
    object.__setattr__(self, 'classes', tuple(int(c) for c in self.classes))
    errors = []
    if not self.formats or set(self.formats) - set(spatial.FORMATS):
      errors.append(
          f'formats {self.formats} must be a non-empty subset of '
          f'{spatial.FORMATS}'
      )
    if len(set(self.formats)) != len(self.formats):
      errors.append(f'formats {self.formats} repeat a format')
    if self.num_train < 0 or self.num_test < 0:
      errors.append('num_train and num_test must be >= 0')
    if self.duration < 1.0:
      errors.append(f'duration {self.duration} s is shorter than 1 s')
    if self.train_rooms < 1 or self.test_rooms < 1:
      errors.append('train_rooms and test_rooms must be >= 1')
    if not self.classes or any(
        not 0 <= c < sources.NUM_CLASSES for c in self.classes
    ):
      errors.append(f'classes must be indices in 0..{sources.NUM_CLASSES - 1}')
    if not 1 <= self.max_polyphony <= len(self.layer_density):
      errors.append(f'max_polyphony must be in 1..{len(self.layer_density)}')
    if any(not 0 < d < 1 for d in self.layer_density):
      errors.append('layer_density values must be in (0, 1)')
    for name in ('same_class_prob', 'moving_prob'):
      if not 0 <= getattr(self, name) <= 1:
        errors.append(f'{name} must be in [0, 1]')
    ranges = {
        'angular_speed_range': (0, None),
        'elevation_range': (-90, 90),
        'distance_range': (0.1, None),
        'level_range_db': (None, None),
        'rt60_range': (0.05, 5.0),
        'snr_range': (None, None),
    }
    for name, (lo_min, hi_max) in ranges.items():
      lo, hi = getattr(self, name)
      if (
          lo > hi
          or (lo_min is not None and lo < lo_min)
          or (hi_max is not None and hi > hi_max)
      ):
        errors.append(f'{name} {(lo, hi)} is not a valid (low, high) range')
    if self.mic_model not in ('rigid', 'open'):
      errors.append(f"mic_model {self.mic_model!r} is not 'rigid' or 'open'")
    if not 0.005 <= self.block_seconds <= 0.5:
      errors.append('block_seconds must be in [0.005, 0.5]')
    if self.sample_rate <= 0 or self.sample_rate % self.label_rate:
      errors.append('sample_rate must be a multiple of label_rate')
    width, height = self.video_size
    if width < 16 or height < 8 or width % 2 or height % 2:
      errors.append(f'video_size {self.video_size} must be even, >= 16x8')
    if self.video_fps <= 0 or self.video_fps % self.label_rate:
      errors.append(f'video_fps must be a multiple of {self.label_rate}')
    if errors:
      raise ValueError('Invalid SynthConfig: ' + '; '.join(errors) + '.')

  @property
  def num_samples(self) -> int:
    return int(round(self.duration * self.sample_rate))

  @property
  def num_frames(self) -> int:
    hop = self.sample_rate // self.label_rate
    return -(-self.num_samples // hop)


@dataclasses.dataclass(frozen=True)
class SceneJob:
  """One scene of the dataset: its split, index, and file name parts."""

  split: str
  index: int
  fold: int
  room: int
  mix: int

  @property
  def name(self) -> str:
    return f'fold{self.fold}_room{self.room}_mix{self.mix:03d}'

  @property
  def subdir(self) -> str:
    return SPLITS[self.split][0]


def scene_plan(config: SynthConfig) -> list[SceneJob]:
  """All scenes of the dataset, train first."""
  jobs = []
  for split, count, first_room, rooms in (
      ('train', config.num_train, 1, config.train_rooms),
      ('test', config.num_test, config.train_rooms + 1, config.test_rooms),
  ):
    fold = SPLITS[split][1]
    for i in range(count):
      jobs.append(
          SceneJob(split, i, fold, first_room + i % rooms, 1 + i // rooms)
      )
  return jobs


def _seed_sequence(seed) -> np.random.SeedSequence:
  if isinstance(seed, np.random.SeedSequence):
    return seed
  return np.random.SeedSequence(seed)


def _child(ss: np.random.SeedSequence, *key: int) -> np.random.SeedSequence:
  return np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + key)


def _rng(ss: np.random.SeedSequence, *key: int) -> np.random.Generator:
  return np.random.default_rng(_child(ss, *key))


def job_seed(config: SynthConfig, job: SceneJob) -> np.random.SeedSequence:
  split_code = 1 if job.split == 'train' else 2
  return np.random.SeedSequence(config.seed, spawn_key=(split_code, job.index))


def job_room(config: SynthConfig, job: SceneJob) -> room_lib.Room | None:
  if not config.reverb:
    return None
  rng = np.random.default_rng(
      np.random.SeedSequence(config.seed, spawn_key=(3, job.room))
  )
  return room_lib.sample_room(rng, config.room_size_range, config.rt60_range)


def render_job(config: SynthConfig, job: SceneJob):
  """`render_scene` of one dataset scene (its seed and shared room)."""
  return render_scene(config, job_seed(config, job), job_room(config, job))


def render_scene(
    config: SynthConfig,
    seed: int | np.random.SeedSequence,
    room: room_lib.Room | None = None,
    library: sources.ClipLibrary | None = None,
) -> tuple[dict[str, np.ndarray], events_lib.EventTable]:
  """Renders one scene in memory.

  Args:
    config: the generator settings.
    seed: the scene's seed.
    room: the room (drawn from the seed when None and `config.reverb`);
      ignored without reverb.
    library: real clips (loaded from `config.sources_dir` when None).

  Returns:
    ({format: int16 [num_samples, 4]}, the scene's `EventTable`), exactly the
    samples and labels that `render_dataset` writes.
  """
  ss = _seed_sequence(seed)
  fs = config.sample_rate
  if not config.reverb:
    room = None
  elif room is None:
    room = room_lib.sample_room(
        _rng(ss, 4), config.room_size_range, config.rt60_range
    )
  if library is None and config.sources_dir:
    library = sources.load_library(str(config.sources_dir), float(fs))

  def make_signal(class_index: int, k: int) -> np.ndarray:
    rng = _rng(ss, 1, k)
    if library is not None:
      return library.sample(class_index, rng)
    return sources.synthesize(class_index, rng, fs)

  events = scenes.sample_events(
      config, _rng(ss, 0), config.num_samples, make_signal, room
  )
  return render_events(config, events, ss, room)


def render_events(
    config: SynthConfig,
    events: list[scenes.Event],
    seed: int | np.random.SeedSequence,
    room: room_lib.Room | None = None,
) -> tuple[dict[str, np.ndarray], events_lib.EventTable]:
  """Renders given events (e.g. hand-placed ones) like `render_scene`.

  Args:
    config: the generator settings (formats, length, SNR, ...).
    events: the events; their onsets must lie within the scene.
    seed: seed of the reverberation tails and the ambience.
    room: the room, or None for the direct path only.

  Returns:
    ({format: int16 [num_samples, 4]}, the events' `EventTable`).
  """
  ss = _seed_sequence(seed)
  fs = config.sample_rate
  table = scenes.events_to_table(
      events, config.num_frames, fs, config.label_rate
  )
  active = np.zeros(config.num_frames, bool)
  active[table.frame] = True
  active = np.repeat(active, fs // config.label_rate)[: config.num_samples]
  snr = float(_rng(ss, 5).uniform(*config.snr_range))
  ambience = noise_lib.ambient(_rng(ss, 3), config.num_samples, fs)
  audio = {}
  for fmt in config.formats:
    audio[fmt] = _render_format(
        config, fmt, events, room, active, snr, ambience, ss
    )
  return audio, table


def _render_format(config, fmt, events, room, active, snr, ambience, ss):
  """The int16 [num_samples, 4] recording of one format."""
  fs = config.sample_rate
  fid = spatial.FORMATS.index(fmt)
  encoder = spatial.get_encoder(fmt, fs, config.mic_model)
  hop = max(int(round(config.block_seconds * fs)), 1)
  num_samples = config.num_samples
  mix = np.zeros((encoder.num_channels, num_samples))
  for k, ev in enumerate(events):
    if ev.moving:
      t = np.arange(room_lib.num_blocks(ev.num_samples, hop)) * hop / fs
    else:
      t = np.zeros(1)
    y = room_lib.spatialize(
        ev.signal * ev.gain,
        ev.positions(t),
        hop,
        room,
        encoder,
        fs,
        config.ism_order,
        tail_rng=_rng(ss, 2, fid, k),
    )
    end = min(ev.onset + y.shape[1], num_samples)
    mix[:, ev.onset : end] += y[:, : end - ev.onset]

  # Diffuse ambience at the scene's SNR: event power over the active samples
  # in the omni channel (FOA W) or averaged over the capsules (MIC); the noise
  # has unit power there.
  ref = mix[:1] if fmt == 'foa' else mix
  power = np.mean(ref[:, active] ** 2) if active.any() else np.mean(ref**2)
  gains = np.asarray(encoder.diffuse_gains)[:, None]
  mix += ambience * gains * np.sqrt(power / 10 ** (snr / 10))

  ref = mix[:1] if fmt == 'foa' else mix
  rms = max(np.sqrt(np.mean(ref**2)), 1e-12)
  gain = 10 ** (config.target_rms_dbfs / 20) / rms
  peak = np.max(np.abs(mix)) * gain
  if peak > 0.99:
    gain *= 0.99 / peak
  return np.clip(np.rint(mix.T * gain * 32767), -32768, 32767).astype(np.int16)


# Writing
# -----------------------------------------------------------------------------


def scene_paths(
    out_dir, config: SynthConfig, job: SceneJob
) -> dict[str, pathlib.Path]:
  """Destination of every file of a scene: format names, 'metadata', 'video'."""
  out_dir = pathlib.Path(out_dir)
  paths = {
      fmt: out_dir / f'{fmt}_dev' / job.subdir / f'{job.name}.wav'
      for fmt in config.formats
  }
  paths['metadata'] = out_dir / 'metadata_dev' / job.subdir / f'{job.name}.csv'
  if config.video:
    paths['video'] = out_dir / 'video_dev' / job.subdir / f'{job.name}.mp4'
  return paths


def write_wav(path, audio: np.ndarray, fs: int) -> None:
  """Writes int16 [n, C] as a PCM_16 wav, atomically."""
  with files.atomic_path(path) as tmp:
    soundfile.write(tmp, audio, fs, subtype='PCM_16', format='WAV')


def render_and_write(out_dir, config: SynthConfig, job: SceneJob) -> str:
  """Renders one dataset scene and writes its files; returns its name."""
  audio, table = render_job(config, job)
  paths = scene_paths(out_dir, config, job)
  for fmt, data in audio.items():
    write_wav(paths[fmt], data, config.sample_rate)
  formats.write_metadata(paths['metadata'], table, 'starss23')
  if config.video:
    width, height = config.video_size
    frames = video.render_frames(table, config.num_frames, width, height)
    video.write_mp4(paths['video'], frames, config.video_fps, config.label_rate)
  return job.name


def render_dataset(
    out_dir: str | os.PathLike,
    config: SynthConfig = SynthConfig(),
    workers: int | None = None,
    progress: bool = True,
) -> list[SceneJob]:
  """Renders every scene of `config` into out_dir (STARSS23 layout).

  Args:
    out_dir: the dataset root (created if needed).
    config: the generator settings.
    workers: processes (default: the CPU count; 1 renders in this process).
    progress: show a tqdm progress bar.

  Returns:
    The scenes written.
  """
  jobs = scene_plan(config)
  if config.sources_dir:
    library = sources.load_library(
        str(config.sources_dir), float(config.sample_rate)
    )
    logging.info('%s', library.describe())
  workers = min(workers or os.cpu_count() or 1, max(len(jobs), 1))
  logging.info(
      'Rendering %d train + %d test scenes of %.1f s (%s) into %s with %d '
      'process(es).',
      config.num_train,
      config.num_test,
      config.duration,
      ', '.join(config.formats) + (', video' if config.video else ''),
      out_dir,
      workers,
  )
  start = time.perf_counter()
  bar = tqdm.tqdm(total=len(jobs), unit='scene', disable=not progress)
  with bar:
    if workers <= 1:
      for job in jobs:
        render_and_write(out_dir, config, job)
        bar.update()
    else:
      context = multiprocessing.get_context('spawn')
      with futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending = [
            pool.submit(render_and_write, out_dir, config, job) for job in jobs
        ]
        try:
          for done in futures.as_completed(pending):
            done.result()
            bar.update()
        except BaseException:
          for p in pending:
            p.cancel()
          raise
  logging.info(
      'Rendered %d scenes in %.1f s.', len(jobs), time.perf_counter() - start
  )
  return jobs
