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

"""Tiny, deterministic dataset folders for builder and pipeline tests.

The builders' `make_dummy_data.py` scripts and the tests write dataset
layouts with these helpers: wavs of low-level noise (so that audio round
trips are checked on non-zero samples), random but valid event tables
written with `seld_jax.formats`, and small videos whose frame `i` has the
grey level `video_level(i)` (so that the frame picked for each label frame
can be checked).
"""

from __future__ import annotations

from collections.abc import Sequence
import os
import pathlib

import numpy as np
import soundfile

from seld_jax import events as events_lib
from seld_jax import formats
from seld_jax import stereo_view

# The frame rate of the dummy videos: NTSC 29.97 fps, as STARSS23's.
VIDEO_FPS = 30000 / 1001


def write_wav(
    path,
    num_samples: int,
    num_channels: int,
    sample_rate: int,
    seed: int = 0,
    subtype: str = 'PCM_16',
    amplitude: float = 0.01,
) -> np.ndarray:
  """Writes deterministic noise; returns the written int16 samples [N, C]."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(seed)
  audio = (rng.standard_normal((num_samples, num_channels)) * amplitude).clip(
      -1, 1
  )
  soundfile.write(path, audio, sample_rate, subtype=subtype)
  return soundfile.read(path, dtype='int16', always_2d=True)[0]


def random_events(
    num_frames: int,
    num_classes: int,
    seed: int = 0,
    *,
    label_rate: float = 10.0,
    distance: bool = True,
    max_events: int = 4,
) -> events_lib.EventTable:
  """A few static and moving events, with one same-class overlap.

  Angles are integers (as in the DCASE files), distances whole centimetres.

  Args:
    num_frames: events lie in frames [0, num_frames).
    num_classes: class indices are drawn from [0, num_classes).
    seed: RNG seed.
    label_rate: the table's label rate.
    distance: give every event a distance (metres), else NaN.
    max_events: at most this many events.

  Returns:
    The table, sorted by frame (file order within a frame).
  """
  rng = np.random.default_rng(seed)
  rows = []
  n = int(rng.integers(2, max_events + 1))
  classes = rng.integers(0, num_classes, n)
  classes[1] = classes[0]  # A same-class overlap (two sources).
  for source, cls in enumerate(classes):
    start = int(rng.integers(0, max(1, num_frames // 2)))
    stop = int(rng.integers(start + 1, num_frames + 1))
    azi0 = int(rng.integers(-180, 180))
    ele = int(rng.integers(-40, 41))
    speed = int(rng.integers(-3, 4))  # degrees per frame
    dist = int(rng.integers(50, 500)) / 100.0
    for f in range(start, stop):
      azi = (azi0 + speed * (f - start) + 180) % 360 - 180
      rows.append((f, int(cls), source, azi, ele, dist))
  rows.sort(key=lambda r: r[0])
  cols = list(zip(*rows))
  return events_lib.EventTable.from_columns(
      cols[0],
      cols[1],
      cols[3],
      cols[4],
      source=cols[2],
      distance=cols[5] if distance else None,
      label_rate=label_rate,
  )


def video_level(i: int) -> int:
  """The grey level of dummy video frame i (distinct for i < 25)."""
  return (16 + 9 * i) % 240


def write_video(
    path,
    seconds: float,
    height: int = 32,
    width: int = 64,
    fps: float = VIDEO_FPS,
) -> int:
  """Writes a small mpeg4 video of flat grey frames; returns its frame count."""
  import fractions  # pylint: disable=g-import-not-at-top

  import av  # pylint: disable=g-import-not-at-top

  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  num = int(np.ceil(seconds * fps))
  rate = fractions.Fraction(fps).limit_denominator(1001)
  with av.open(os.fspath(path), 'w') as container:
    stream = container.add_stream('mpeg4', rate=rate)
    stream.width, stream.height, stream.pix_fmt = width, height, 'yuv420p'
    stream.options = {'qscale': '1'}
    for i in range(num):
      img = np.full((height, width, 3), video_level(i), np.uint8)
      frame = av.VideoFrame.from_ndarray(img, format='rgb24')
      for packet in stream.encode(frame):
        container.mux(packet)
    for packet in stream.encode():
      container.mux(packet)
  return num


def write_starss_layout(
    root,
    recordings: Sequence[tuple[str, str, float]],
    *,
    audio_formats: Sequence[str] = ('foa', 'mic'),
    metadata_format: str = 'starss23',
    sample_rate: int = 24000,
    num_channels: int = 4,
    video: bool = True,
    eval_labels: bool = False,
    seed: int = 0,
) -> dict[str, events_lib.EventTable]:
  """Writes a DCASE-style dataset folder (STARSS, TAU-NIGENS, DCASE2019).

  Args:
    root: the manual_dir to create.
    recordings: (folder, stem, seconds). A folder such as 'dev-train-sony'
      goes under `{fmt}_dev/`, `metadata_dev/`, `video_dev/`; '' writes the
      flat `{fmt}_dev/{stem}.wav` + `metadata_dev/{stem}.csv` layout; 'eval'
      writes `{fmt}_eval/` and `video_eval/` (flat), with `metadata_eval/`
      only when `eval_labels`.
    audio_formats: which audio folders to write.
    metadata_format: the CSV format.
    sample_rate: wav sample rate.
    num_channels: wav channels.
    video: also write videos.
    eval_labels: write metadata for the 'eval' recordings.
    seed: base RNG seed.

  Returns:
    id -> the event table written (empty for unlabelled 'eval').
  """
  root = pathlib.Path(root)
  spec = formats.get_format(metadata_format)
  written = {}
  for i, (folder, stem, seconds) in enumerate(recordings):
    num_samples = int(round(seconds * sample_rate))
    evaluation = folder == 'eval'
    kind = 'eval' if evaluation else 'dev'
    sub = '' if evaluation or not folder else f'/{folder}'
    rid = f'{folder}/{stem}' if folder else stem
    for j, fmt in enumerate(audio_formats):
      write_wav(
          root / f'{fmt}_{kind}{sub}' / f'{stem}.wav',
          num_samples,
          num_channels,
          sample_rate,
          seed=seed + 100 * i + j,
      )
    if video:
      write_video(root / f'video_{kind}{sub}' / f'{stem}.mp4', seconds)
    if evaluation and not eval_labels:
      written[rid] = events_lib.EventTable.empty()
      continue
    num_frames = int(np.ceil(seconds * spec.label_rate))
    table = random_events(
        num_frames,
        spec.num_classes,
        seed=seed + i,
        label_rate=spec.label_rate,
        distance=spec.distance_unit is not None,
    )
    if 'elevation' not in spec.columns and 'ele' not in spec.columns:
      # Stereo (DCASE2025): azimuth folded to the front, no elevation, and an
      # on-screen flag.
      azi = stereo_view.fold_azimuth(table.azimuth)
      onscreen = (np.abs(azi) < 45).astype(np.int8)
      table = table.replace(
          azimuth=azi, elevation=np.zeros(len(table)), onscreen=onscreen
      )
    formats.write_metadata(
        root / f'metadata_{kind}{sub}' / f'{stem}.csv', table, metadata_format
    )
    written[rid] = table
  return written


def check_records_match_files(
    builder,
    manual_dir,
    metadata_format: str,
    splits: Sequence[str],
    check_names: bool = True,
) -> dict[str, dict]:
  """Asserts that every record of a prepared builder equals its source files.

  Checks the audio samples, sample rate, label-frame count, float audio,
  events (equal to `formats.read_metadata` of the CSV, rows past the audio
  dropped), provenance paths and fold/room against the file names.

  Args:
    builder: a prepared SELD builder.
    manual_dir: the folder it was built from.
    metadata_format: the CSV format.
    splits: the splits to read.
    check_names: check fold and room against `parse_recording_name`.

  Returns:
    id -> {'split': ..., 'example': the numpy example}.
  """
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  from seld_jax import builder_utils  # pylint: disable=g-import-not-at-top
  from seld_jax import records  # pylint: disable=g-import-not-at-top

  manual_dir = pathlib.Path(manual_dir)
  out = {}
  label_rate = formats.get_format(metadata_format).label_rate
  for split in splits:
    for ex in tfds.as_numpy(builder.as_dataset(split=split)):
      rid = records.as_text(ex['id'])
      prov = ex['provenance']
      wav = manual_dir / records.as_text(prov['audio_path'])
      dtype = np.dtype(ex['audio'].dtype).name
      pcm, rate = soundfile.read(wav, dtype=dtype, always_2d=True)
      np.testing.assert_array_equal(ex['audio'], pcm, err_msg=rid)
      assert ex['sample_rate'] == rate, rid
      assert ex['num_frames'] == records.num_label_frames(
          len(pcm), rate, label_rate
      ), rid
      np.testing.assert_allclose(
          records.audio_from_example(ex),
          pcm.T * records.audio_scale(pcm.dtype),
          err_msg=rid,
      )
      table = records.events_from_example(ex)
      meta = records.as_text(prov['metadata_path'])
      if prov['labeled']:
        expected = formats.read_metadata(manual_dir / meta, metadata_format)
        expected = expected.select(expected.frame < ex['num_frames'])
        assert table.equals(expected), rid
      else:
        assert meta == '' and len(table) == 0, rid
      if check_names:
        names = builder_utils.parse_recording_name(rid.split('/')[-1])
        assert prov['fold'] == names['fold'], rid
        assert prov['room'] == names['room'], rid
      assert rid not in out, f'duplicate id {rid}'
      out[rid] = {'split': split, 'example': ex}
  return out


# TUT Sound Events 2018 (SELDnet) layout
# -----------------------------------------------------------------------------

_TUT_SYNTH_CLASSES = (
    'clearthroat',
    'cough',
    'doorslam',
    'drawer',
    'keyboard',
    'keysDrop',
    'knock',
    'laughter',
    'pageturn',
    'phone',
    'speech',
)
_URBANSOUND_IDS = ('1', '3', '4', '5', '6', '7', '8', '9')


def write_tut_desc(
    path, seconds: float, kind: str, seed: int = 0, max_events: int = 3
):
  """A TUT Sound Events 2018 desc file with random events.

  Args:
    path: the CSV to write.
    seconds: events lie in [0, seconds].
    kind: 'static' (synthetic names), 'real' (UrbanSound names, static),
      'moving' (synthetic, ele_dir/azi_dir/ang_vel) or 'moving_real'
      (UrbanSound names, ang_vel).
    seed: RNG seed.
    max_events: at most this many events.
  """
  rng = np.random.default_rng(seed)
  header = ['sound_event_recording', 'start_time', 'end_time', 'ele', 'azi']
  if kind == 'moving':
    header += ['ele_dir', 'azi_dir', 'ang_vel']
  elif kind == 'moving_real':
    header += ['ang_vel']
  header += ['dist']
  lines = [','.join(header)]
  for _ in range(int(rng.integers(1, max_events + 1))):
    if kind in ('real', 'moving_real'):
      name = (
          f'{rng.integers(1000, 99999)}-{rng.choice(_URBANSOUND_IDS)}-0-'
          f'{rng.integers(0, 9)}.wav'
      )
    else:
      name = f'{rng.choice(_TUT_SYNTH_CLASSES)}{rng.integers(0, 999):03d}.wav'
    start = round(float(rng.uniform(0, seconds / 2)), 4)
    end = round(float(rng.uniform(start + 0.02, seconds)), 4)
    row = [name, str(start), str(end)]
    row += [
        str(int(rng.integers(-4, 5)) * 10),
        str(int(rng.integers(-18, 18)) * 10),
    ]
    if kind == 'moving':
      row += [
          str(int(rng.integers(-4, 5)) * 10),
          str(int(rng.integers(-18, 18)) * 10),
          str(int(rng.choice([10, 20, 40]))),
      ]
    elif kind == 'moving_real':
      row += [str(int(rng.choice([-40, -20, 20, 40])))]
    row += [str(int(rng.integers(1, 4)))]
    lines.append(','.join(row))
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text('\n'.join(lines) + '\n')


def write_tut_layout(
    root,
    recordings: Sequence[tuple[int, int, str, float]],
    *,
    kind: str,
    num_channels: int = 4,
    sample_rate: int = 44100,
    snr_db: int = 30,
    seed: int = 0,
):
  """Writes `wav_ov{o}_split{s}_{db}db/` and `desc_ov{o}_split{s}/` folders.

  Args:
    root: the variant folder (e.g. `<manual_dir>/ANSYN`).
    recordings: (ov, split, stem, seconds); stems start with 'train' or
      'test' as in the datasets.
    kind: see `write_tut_desc`.
    num_channels: 4 (FOA) or 8 (circular array).
    sample_rate: Hz.
    snr_db: the SNR in the wav folder name.
    seed: base RNG seed.
  """
  root = pathlib.Path(root)
  for i, (ov, split, stem, seconds) in enumerate(recordings):
    write_wav(
        root / f'wav_ov{ov}_split{split}_{snr_db}db' / f'{stem}.wav',
        int(round(seconds * sample_rate)),
        num_channels,
        sample_rate,
        seed=seed + i,
    )
    write_tut_desc(
        root / f'desc_ov{ov}_split{split}' / f'{stem}.csv',
        seconds,
        kind,
        seed=seed + i,
    )
