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

"""What every seld_jax TFDS builder shares: validation and a base builder.

A dataset builder (`data_builders/<name>/<name>_dataset_builder.py`) is a
thin subclass of `SeldBuilder` that says where a dataset keeps its audio,
metadata and video (`split_sources`) and which metadata format it uses. The
base class then, before anything is written:

  * pairs metadata and audio files in both directions (and videos in the
    video configs), naming the missing file;
  * checks every wav header: readable, channel count, sample rate, PCM
    subtype that the record dtype holds losslessly, and a data chunk as long
    as the header declares (truncated files);
  * parses every metadata file (`formats.FormatError` names file and line);
  * checks that the audio covers the last labelled frame (a config may allow
    a few frames past the end, e.g. DCASE2019 events cut by the end of the
    recording; those rows are dropped as the official label matrices drop
    them);

and while writing reads each wav completely (a short read is an error),
optionally decodes the video at one frame per label frame, and yields
`records.example_from(...)`. TFDS writes into a temporary directory and
renames it only on success, so a failed build leaves no dataset version
directory behind.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
import os
import re
import struct
from typing import Any

from absl import logging
from etils import epath
import numpy as np
import soundfile
import tensorflow_datasets as tfds

from seld_jax import events as events_lib
from seld_jax import formats
from seld_jax import records

# PCM subtypes each record dtype holds losslessly.
LOSSLESS_SUBTYPES = {
    'int16': ('PCM_16',),
    'int32': ('PCM_16', 'PCM_24', 'PCM_32'),
}

_MAX_LISTED = 10


class DataValidationError(ValueError):
  """A dataset file that cannot be turned into a correct record."""

  def __init__(self, path, message: str):
    self.path = str(path)
    super().__init__(f'{path}: {message}')


# Names and pairing
# -----------------------------------------------------------------------------


def parse_recording_name(stem: str) -> dict[str, int]:
  """Fold and room numbers from a DCASE file name (-1 when absent).

  'fold3_room21_mix001' -> fold 3, room 21; 'split1_ir0_ov1_1' (DCASE2019)
  -> fold 1, room 0 (the impulse-response set).

  Args:
    stem: a file name without extension.

  Returns:
    {'fold': int, 'room': int}.
  """
  out = {'fold': -1, 'room': -1}
  for key, pattern in (
      ('fold', r'(?:^|_)(?:fold|split)(\d+)'),
      ('room', r'(?:^|_)(?:room|ir)(\d+)'),
  ):
    match = re.search(pattern, stem)
    if match:
      out[key] = int(match.group(1))
  return out


def _listing(paths: Iterable[str]) -> str:
  paths = sorted(paths)
  more = len(paths) - _MAX_LISTED
  text = ', '.join(paths[:_MAX_LISTED])
  return text + (f' and {more} more' if more > 0 else '')


def pair_files(
    primary: Mapping[str, str],
    secondary: Mapping[str, str],
    expected_secondary: Mapping[str, str],
    expected_primary: Mapping[str, str],
    what: tuple[str, str] = ('metadata', 'audio'),
) -> list[str]:
  """Checks that two file sets pair up by stem, in both directions.

  Args:
    primary: stem -> path of the first kind (e.g. metadata CSVs).
    secondary: stem -> path of the second kind (e.g. wavs).
    expected_secondary: stem -> the path the missing second file should have
      (for every stem of `primary`).
    expected_primary: likewise for stems of `secondary`.
    what: names of the two kinds for the error message.

  Returns:
    The sorted common stems.

  Raises:
    DataValidationError: naming the files without a partner and where the
      partner was expected.
  """
  missing_secondary = sorted(set(primary) - set(secondary))
  missing_primary = sorted(set(secondary) - set(primary))
  if missing_secondary:
    lines = [
        f'{primary[s]} (expected {expected_secondary[s]})'
        for s in missing_secondary
    ]
    raise DataValidationError(
        primary[missing_secondary[0]],
        f'{len(lines)} {what[0]} file(s) without a {what[1]} file: '
        + _listing(lines),
    )
  if missing_primary:
    lines = [
        f'{secondary[s]} (expected {expected_primary[s]})'
        for s in missing_primary
    ]
    raise DataValidationError(
        secondary[missing_primary[0]],
        f'{len(lines)} {what[1]} file(s) without a {what[0]} file: '
        + _listing(lines),
    )
  return sorted(primary)


def list_files(directory: epath.Path, suffix: str) -> dict[str, epath.Path]:
  """stem -> path of the files `directory/*suffix` (not recursive)."""
  if not directory.is_dir():
    return {}
  return {
      p.name[: -len(suffix)]: p
      for p in sorted(directory.iterdir())
      if p.name.endswith(suffix) and not p.name.startswith('.')
  }


# WAV validation
# -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class WavInfo:
  """Header facts of one wav file."""

  path: str
  num_samples: int
  sample_rate: int
  num_channels: int
  subtype: str


def _riff_data_chunk(path) -> tuple[int, int] | None:
  """(declared data bytes, bytes present) of a RIFF/WAVE file, else None.

  Returns None for files that are not plain RIFF (RF64, W64, ...) or whose
  data size is the 'unknown length' marker; those skip the check.
  """
  size = os.path.getsize(path)
  with open(path, 'rb') as f:
    head = f.read(12)
    if len(head) < 12 or head[:4] != b'RIFF' or head[8:12] != b'WAVE':
      return None
    offset = 12
    while offset + 8 <= size:
      f.seek(offset)
      chunk_id, chunk_size = struct.unpack('<4sI', f.read(8))
      if chunk_id == b'data':
        if chunk_size in (0, 0xFFFFFFFF):
          return None
        return chunk_size, size - offset - 8
      offset += 8 + chunk_size + (chunk_size & 1)
  return None


def wav_info(path) -> WavInfo:
  """Reads a wav header; corrupt or truncated files raise a clear error.

  Args:
    path: the wav file.

  Returns:
    Its `WavInfo`.

  Raises:
    DataValidationError: unreadable, not audio, or shorter than its header
      declares.
  """
  path = os.fspath(path)
  try:
    info = soundfile.info(path)
  except (RuntimeError, soundfile.LibsndfileError, OSError) as e:
    raise DataValidationError(path, f'cannot read the audio file ({e})') from e
  try:
    chunk = _riff_data_chunk(path)
  except (OSError, struct.error) as e:
    raise DataValidationError(path, f'cannot read the RIFF header ({e})') from e
  if chunk is not None:
    declared, present = chunk
    block = info.channels * _bytes_per_sample(info.subtype)
    if block and present < declared:
      raise DataValidationError(
          path,
          f'truncated: the header declares {declared // block} samples, the '
          f'file holds {present // block}',
      )
  return WavInfo(
      path=path,
      num_samples=int(info.frames),
      sample_rate=int(info.samplerate),
      num_channels=int(info.channels),
      subtype=str(info.subtype),
  )


def _bytes_per_sample(subtype: str) -> int:
  return {
      'PCM_S8': 1,
      'PCM_U8': 1,
      'PCM_16': 2,
      'PCM_24': 3,
      'PCM_32': 4,
      'FLOAT': 4,
      'DOUBLE': 8,
  }.get(subtype, 0)


def check_wav(
    info: WavInfo,
    *,
    num_channels: int,
    sample_rate: int,
    audio_dtype: str,
) -> None:
  """Raises `DataValidationError` when the file does not fit the config."""
  if info.num_channels != num_channels:
    raise DataValidationError(
        info.path, f'{info.num_channels} channels, expected {num_channels}'
    )
  if info.sample_rate != sample_rate:
    raise DataValidationError(
        info.path, f'sample rate {info.sample_rate} Hz, expected {sample_rate}'
    )
  allowed = LOSSLESS_SUBTYPES[audio_dtype]
  if info.subtype not in allowed:
    hint = (
        ' Build a config with "audio_dtype": "int32" to keep 24/32-bit PCM.'
        if info.subtype in LOSSLESS_SUBTYPES['int32']
        else ''
    )
    raise DataValidationError(
        info.path,
        f'PCM subtype {info.subtype} cannot be stored losslessly as '
        f'{audio_dtype} (accepted: {", ".join(allowed)}).{hint}',
    )
  if info.num_samples <= 0:
    raise DataValidationError(info.path, 'no audio samples')


def read_wav(info: WavInfo, audio_dtype: str) -> np.ndarray:
  """All samples [num_samples, channels] of a validated wav, as ints."""
  try:
    audio, _ = soundfile.read(info.path, dtype=audio_dtype, always_2d=True)
  except (RuntimeError, soundfile.LibsndfileError, OSError) as e:
    raise DataValidationError(info.path, f'cannot read the audio ({e})') from e
  if len(audio) != info.num_samples:
    raise DataValidationError(
        info.path,
        f'read {len(audio)} samples, the header declares {info.num_samples} '
        '(truncated or corrupt)',
    )
  return audio


def check_label_length(
    events: events_lib.EventTable,
    num_frames: int,
    metadata_path,
    audio_path,
    max_overhang_frames: int = 0,
) -> None:
  """Raises when labels run past the audio.

  Args:
    events: the recording's events.
    num_frames: label frames covered by the audio
      (`records.num_label_frames`).
    metadata_path: for the message.
    audio_path: for the message.
    max_overhang_frames: label frames allowed past the audio's last frame.
  """
  last = events.last_frame()
  if last >= num_frames + max_overhang_frames:
    raise DataValidationError(
        metadata_path,
        f'labels reach frame {last} ({last / events.label_rate:.2f} s) but '
        f'{audio_path} covers only {num_frames} label frames '
        f'({num_frames / events.label_rate:.2f} s)',
    )


# Video
# -----------------------------------------------------------------------------


def decode_video(
    path,
    num_frames: int,
    frame_rate: float,
    height: int,
    width: int,
) -> np.ndarray:
  """One RGB frame per label frame from a video file (PyAV / ffmpeg).

  Label frame k shows the video frame on screen at time k / frame_rate (the
  latest frame whose timestamp is <= that time). For 30-fps video this is
  every third frame, as the DCASE2024 baseline reads it; for 29.97-fps
  video it follows the timestamps instead of drifting by frame count. Label
  frames after the end of the video repeat its last frame (logged).

  Args:
    path: the video file.
    num_frames: label frames to produce.
    frame_rate: label frames per second.
    height: output height.
    width: output width.

  Returns:
    uint8 [num_frames, height, width, 3].
  """
  import av  # pylint: disable=g-import-not-at-top

  path = os.fspath(path)
  out = np.zeros((num_frames, height, width, 3), np.uint8)
  k = 0
  last = None  # the latest decoded frame (converted only when used)
  last_rgb = None
  try:
    with av.open(path) as container:
      stream = container.streams.video[0]
      stream.thread_type = 'AUTO'
      for frame in container.decode(stream):
        if frame.time is None:
          raise DataValidationError(path, 'video frame without a timestamp')
        # A frame after label time k / frame_rate means the previous one was
        # on screen at that time (the first frame stands in before it).
        while k < num_frames and frame.time > k / frame_rate + 1e-6:
          if last_rgb is None:
            last_rgb = _to_rgb(
                last if last is not None else frame, height, width
            )
          out[k] = last_rgb
          k += 1
        if k >= num_frames:
          break
        last, last_rgb = frame, None
  except av.error.FFmpegError as e:
    raise DataValidationError(path, f'cannot decode the video ({e})') from e
  if last is None:
    raise DataValidationError(path, 'the video has no frames')
  if k < num_frames:
    if num_frames - k > 1:
      logging.warning(
          '%s: video ends %d label frames before the audio; repeating its '
          'last frame.',
          path,
          num_frames - k - 1,
      )
    out[k:] = last_rgb if last_rgb is not None else _to_rgb(last, height, width)
  return out


def _to_rgb(frame, height: int, width: int) -> np.ndarray:
  return frame.reformat(width=width, height=height, format='rgb24').to_ndarray()


# The base builder
# -----------------------------------------------------------------------------


@dataclasses.dataclass(eq=False, kw_only=True)
class SeldConfig(tfds.core.BuilderConfig):
  """What a SELD builder config changes on disk.

  Attributes:
    audio_format: 'foa', 'mic' or 'stereo'; selects the audio folders.
    num_channels: channels every wav must have.
    sample_rate: the rate every wav must have (Hz).
    audio_dtype: 'int16' (PCM_16 sources) or 'int32' (PCM_16/24/32).
    video: decode the videos (one frame per label frame).
    video_height: stored frame height.
    video_width: stored frame width.
    max_label_overhang_frames: label frames allowed past the end of the
      audio (0: every labelled frame must start inside the audio). Rows in
      the allowance are dropped from the record, as the official code's
      label matrices drop them; rows beyond it are an error.
  """

  audio_format: str = 'foa'
  num_channels: int = 4
  sample_rate: int = 24000
  audio_dtype: str = 'int16'
  video: bool = False
  video_height: int = 180
  video_width: int = 360
  max_label_overhang_frames: int = 0


@dataclasses.dataclass(frozen=True)
class SplitSource:
  """One folder of recordings that goes into one TFDS split.

  Attributes:
    split: the TFDS split name ('train', 'test', 'eval', 'fold1', ...).
    audio_dir: wav folder, relative to the manual_dir.
    metadata_dir: CSV folder relative to the manual_dir; None for audio
      without labels (evaluation sets).
    video_dir: video folder, relative; used by video configs.
    split_folder: the dataset's own folder name recorded in the provenance
      and used as the id prefix ('' for flat layouts).
    name_pattern: regex a file stem must match (e.g. '^fold1_'), or None.
    fold: the fold recorded in the provenance; None parses it from each file
      name (`parse_recording_name`).
  """

  split: str
  audio_dir: str
  metadata_dir: str | None
  video_dir: str | None = None
  split_folder: str = ''
  name_pattern: str | None = None
  fold: int | None = None


@dataclasses.dataclass
class _Recording:
  id: str
  source: SplitSource
  wav: WavInfo
  audio_rel: str
  metadata_rel: str
  video_rel: str
  video_path: str
  events: events_lib.EventTable
  num_frames: int
  fold: int
  room: int


class SeldBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Base class of the SELD dataset builders (not registered itself).

  Subclasses set `DATASET`, `METADATA_FORMAT`, `VIDEO_SUFFIX` and
  `BUILDER_CONFIGS` (of `SeldConfig`), and implement `split_sources`.
  """

  DATASET = ''
  HOMEPAGE = ''
  METADATA_FORMAT = ''
  METADATA_SUFFIX = '.csv'
  AUDIO_SUFFIX = '.wav'
  VIDEO_SUFFIX = '.mp4'

  @abc.abstractmethod
  def split_sources(self, manual_dir: epath.Path) -> list[SplitSource]:
    """The folders of the dataset (for the current config)."""

  def class_names(self) -> tuple[str, ...]:
    return formats.get_format(self.METADATA_FORMAT).class_names

  def label_rate(self) -> float:
    return formats.get_format(self.METADATA_FORMAT).label_rate

  def read_events(self, path) -> events_lib.EventTable:
    """Parses one metadata file (override for formats needing more)."""
    return formats.read_metadata(path, self.METADATA_FORMAT)

  def _info(self) -> tfds.core.DatasetInfo:
    cfg = self.builder_config
    video = (cfg.video_height, cfg.video_width) if cfg.video else None
    return self.dataset_info_from_configs(
        features=records.features_dict(
            cfg.num_channels,
            cfg.sample_rate,
            audio_dtype=np.dtype(cfg.audio_dtype),
            video=video,
        ),
        metadata=records.dataset_metadata(
            self.class_names(),
            self.label_rate(),
            self.METADATA_FORMAT,
            dataset=self.DATASET,
            audio_format=cfg.audio_format,
            sample_rate=cfg.sample_rate,
            num_channels=cfg.num_channels,
        ),
        supervised_keys=None,
        homepage=self.HOMEPAGE or None,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    manual_dir = epath.Path(dl_manager.manual_dir)
    if not manual_dir.is_dir():
      raise DataValidationError(manual_dir, 'manual_dir does not exist')
    sources = self.split_sources(manual_dir)
    if not sources:
      raise DataValidationError(
          manual_dir,
          f'no {self.DATASET} folders found for config '
          f'{self.builder_config.name!r}; see MANUAL_DOWNLOAD_INSTRUCTIONS',
      )
    plans: dict[str, list[_Recording]] = {}
    for source in sources:
      plans.setdefault(source.split, []).extend(
          self._plan_source(manual_dir, source)
      )
    ids = [r.id for recs in plans.values() for r in recs]
    if len(ids) != len(set(ids)):
      dup = sorted({i for i in ids if ids.count(i) > 1})
      raise DataValidationError(manual_dir, f'duplicate recording ids {dup}')
    logging.info(
        '%s/%s: %s',
        self.name,
        self.builder_config.name,
        {split: len(recs) for split, recs in plans.items()},
    )
    return {
        split: self._generate_examples(recs) for split, recs in plans.items()
    }

  def _plan_source(
      self, manual_dir: epath.Path, source: SplitSource
  ) -> list[_Recording]:
    """Pairs and validates one folder before anything is written."""
    cfg = self.builder_config
    audio_dir = manual_dir / source.audio_dir
    if not audio_dir.is_dir():
      raise DataValidationError(audio_dir, 'audio folder not found')
    rel = lambda p: os.fspath(p.relative_to(manual_dir))
    pattern = re.compile(source.name_pattern) if source.name_pattern else None
    keep = lambda files: {
        s: p for s, p in files.items() if pattern is None or pattern.search(s)
    }
    wavs = keep(list_files(audio_dir, self.AUDIO_SUFFIX))
    if not wavs:
      raise DataValidationError(audio_dir, 'no audio files')
    metas = {}
    if source.metadata_dir is not None:
      meta_dir = manual_dir / source.metadata_dir
      metas = keep(list_files(meta_dir, self.METADATA_SUFFIX))
      pair_files(
          {s: rel(p) for s, p in metas.items()},
          {s: rel(p) for s, p in wavs.items()},
          {s: rel(audio_dir / (s + self.AUDIO_SUFFIX)) for s in metas},
          {s: rel(meta_dir / (s + self.METADATA_SUFFIX)) for s in wavs},
          what=('metadata', 'audio'),
      )
    videos = {}
    if cfg.video:
      if source.video_dir is None:
        raise DataValidationError(audio_dir, 'this split has no video folder')
      video_dir = manual_dir / source.video_dir
      videos = keep(list_files(video_dir, self.VIDEO_SUFFIX))
      pair_files(
          {s: rel(p) for s, p in wavs.items()},
          {s: rel(p) for s, p in videos.items()},
          {s: rel(video_dir / (s + self.VIDEO_SUFFIX)) for s in wavs},
          {s: rel(audio_dir / (s + self.AUDIO_SUFFIX)) for s in videos},
          what=('audio', 'video'),
      )
    plan = []
    for stem in sorted(wavs):
      info = wav_info(wavs[stem])
      check_wav(
          info,
          num_channels=cfg.num_channels,
          sample_rate=cfg.sample_rate,
          audio_dtype=cfg.audio_dtype,
      )
      num_frames = records.num_label_frames(
          info.num_samples, info.sample_rate, self.label_rate()
      )
      if source.metadata_dir is not None:
        events = self.read_events(metas[stem])
        check_label_length(
            events,
            num_frames,
            rel(metas[stem]),
            rel(wavs[stem]),
            cfg.max_label_overhang_frames,
        )
        past = events.frame >= num_frames
        if np.any(past):
          logging.info(
              '%s: dropping %d label rows past the end of %s (allowed '
              'overhang %d frames).',
              rel(metas[stem]),
              int(np.sum(past)),
              rel(wavs[stem]),
              cfg.max_label_overhang_frames,
          )
          events = events.select(~past)
      else:
        events = events_lib.EventTable.empty(label_rate=self.label_rate())
      names = parse_recording_name(stem)
      plan.append(
          _Recording(
              id=f'{source.split_folder}/{stem}'
              if source.split_folder
              else stem,
              source=source,
              wav=info,
              audio_rel=rel(wavs[stem]),
              metadata_rel=rel(metas[stem]) if stem in metas else '',
              video_rel=rel(videos[stem]) if stem in videos else '',
              video_path=os.fspath(videos[stem]) if stem in videos else '',
              events=events,
              num_frames=num_frames,
              fold=names['fold'] if source.fold is None else source.fold,
              room=names['room'],
          )
      )
    return plan

  def _generate_examples(
      self, recordings: Sequence[_Recording]
  ) -> Iterator[tuple[str, dict[str, Any]]]:
    cfg = self.builder_config
    for rec in recordings:
      audio = read_wav(rec.wav, cfg.audio_dtype)
      video = None
      if cfg.video:
        video = decode_video(
            rec.video_path,
            rec.num_frames,
            self.label_rate(),
            cfg.video_height,
            cfg.video_width,
        )
      yield rec.id, records.example_from(
          id=rec.id,
          audio=audio,
          sample_rate=rec.wav.sample_rate,
          events=rec.events,
          num_frames=rec.num_frames,
          video=video,
          provenance={
              'dataset': self.DATASET,
              'fold': rec.fold,
              'room': rec.room,
              'format': cfg.audio_format,
              'split_folder': rec.source.split_folder,
              'labeled': rec.source.metadata_dir is not None,
              'pcm_subtype': rec.wav.subtype,
              'audio_path': rec.audio_rel,
              'metadata_path': rec.metadata_rel,
              'video_path': rec.video_rel,
          },
      )


def eval_split_sources(
    manual_dir: epath.Path, audio_format: str, video: bool
) -> list[SplitSource]:
  """The evaluation audio: `{fmt}_eval/` (flat or in sub-folders).

  Labelled when `metadata_eval/` (same sub-folders) exists; ids are
  'eval/<stem>' (flat) or '<sub-folder>/<stem>'.

  Args:
    manual_dir: the dataset root.
    audio_format: the audio folder prefix ('foa', 'mic', 'stereo').
    video: whether `video_eval/` is used.

  Returns:
    Sources of the 'eval' split (none when the folder is absent).
  """
  sources = []
  ev = manual_dir / f'{audio_format}_eval'
  if not ev.is_dir():
    return sources
  folders = [''] + sorted(p.name for p in ev.iterdir() if p.is_dir())
  for folder in folders:
    sub = f'/{folder}' if folder else ''
    if not list_files(ev / folder, '.wav'):
      continue
    labeled = (manual_dir / f'metadata_eval{sub}').is_dir()
    sources.append(
        SplitSource(
            split='eval',
            audio_dir=f'{audio_format}_eval{sub}',
            metadata_dir=f'metadata_eval{sub}' if labeled else None,
            video_dir=f'video_eval{sub}' if video else None,
            split_folder=folder or 'eval',
        )
    )
  return sources


def dev_folder_split_sources(
    manual_dir: epath.Path,
    audio_format: str,
    video: bool,
    folder_split: Callable[[str], str | None],
) -> list[SplitSource]:
  """A development set in split folders, plus the evaluation audio.

  `{fmt}_dev/<folder>/*.wav`, `metadata_dev/<folder>/*.csv` and
  `video_dev/<folder>/*.mp4`; `folder_split(folder)` names the TFDS split of
  a folder (None skips it).

  Args:
    manual_dir: the dataset root.
    audio_format: the audio folder prefix.
    video: whether the video folders are used.
    folder_split: folder name -> split name or None.

  Returns:
    The split sources, the 'eval' ones last.
  """
  sources = []
  dev = manual_dir / f'{audio_format}_dev'
  if dev.is_dir():
    for folder in sorted(p.name for p in dev.iterdir() if p.is_dir()):
      split = folder_split(folder)
      if split is None:
        continue
      sources.append(
          SplitSource(
              split=split,
              audio_dir=f'{audio_format}_dev/{folder}',
              metadata_dir=f'metadata_dev/{folder}',
              video_dir=f'video_dev/{folder}' if video else None,
              split_folder=folder,
          )
      )
  return sources + eval_split_sources(manual_dir, audio_format, video)


def fold_split_sources(
    manual_dir: epath.Path, audio_format: str, prefix: str = 'fold'
) -> list[SplitSource]:
  """A flat development folder split by the fold in the file names.

  `{fmt}_dev/{prefix}<k>_*.wav` with `metadata_dev/{prefix}<k>_*.csv` become
  split '{prefix}<k>' (e.g. TAU-NIGENS 2020 'fold1'..'fold6', DCASE2019
  'split1'..'split4'); the evaluation audio becomes 'eval'.

  Args:
    manual_dir: the dataset root.
    audio_format: the audio folder prefix.
    prefix: the fold word in the file names.

  Returns:
    The split sources.
  """
  sources = []
  dev = f'{audio_format}_dev'
  folds = sorted(
      {
          int(m.group(1))
          for stem in list_files(manual_dir / dev, '.wav')
          if (m := re.match(rf'{prefix}(\d+)_', stem))
      }
      | {
          int(m.group(1))
          for stem in list_files(manual_dir / 'metadata_dev', '.csv')
          if (m := re.match(rf'{prefix}(\d+)_', stem))
      }
  )
  for k in folds:
    sources.append(
        SplitSource(
            split=f'{prefix}{k}',
            audio_dir=dev,
            metadata_dir='metadata_dev',
            name_pattern=rf'^{prefix}{k}_',
        )
    )
  return sources + eval_split_sources(manual_dir, audio_format, video=False)


def starss_split_sources(
    manual_dir: epath.Path, audio_format: str, video: bool
) -> list[SplitSource]:
  """The STARSS22/23 layout (also DCASE2024's and DCASE2025's).

  `{fmt}_dev/dev-{train,test}-{sony,tau}/*.wav`, `metadata_dev/<same>/*.csv`,
  `video_dev/<same>/*.mp4`; the evaluation audio in `{fmt}_eval/` (flat or
  in sub-folders) with `metadata_eval/` when its labels are present.

  Args:
    manual_dir: the dataset root.
    audio_format: 'foa', 'mic' or 'stereo'.
    video: whether the video folders are used.

  Returns:
    The split sources: dev-train-* -> 'train', dev-test-* -> 'test',
    evaluation -> 'eval'.
  """

  def folder_split(folder):
    match = re.fullmatch(r'dev-(train|test)(?:-[\w-]+)?', folder)
    return match.group(1) if match else None

  return dev_folder_split_sources(manual_dir, audio_format, video, folder_split)
