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

"""The one example structure written by every seld_jax TFDS builder.

One example is one recording:

  id           text     stable id, never a path, e.g.
                        'dev-train-sony/fold3_room21_mix001'
  audio        int16 or int32 [num_samples, num_channels]: the raw PCM in the
                        file's own sample rate and channel order, lossless
                        (int16 for PCM_16 files; int32 for PCM_24/PCM_32, as
                        soundfile reads them: left-aligned to 32 bits)
  audio_scale  float32  multiply `audio` by it for float samples in [-1, 1)
                        (2**-15 for int16, 2**-31 for int32)
  sample_rate  int32    Hz
  num_frames   int32    label frames covering the audio:
                        ceil(num_samples * label_rate / sample_rate)
  label_rate   float32  label frames per second (10, 50 or 44100/512, all
                        exact in float32)
  events       the `EventTable` columns as variable-length vectors (raw
               bytes, so float64 angles and distances are stored exactly):
                 frame int32, class_index int32, source int32,
                 azimuth float64 (deg), elevation float64 (deg),
                 distance float64 (metres, NaN when unknown),
                 onscreen int8 (-1 when unknown)
  video        optional uint8 [num_frames, height, width, 3], one frame per
               label frame (JPEG-encoded per frame on disk)
  provenance   dataset, fold (-1 when unknown), room (-1), format ('foa',
               'mic', 'stereo'), split_folder (e.g. 'dev-train-sony'),
               labeled (False for evaluation audio without metadata),
               pcm_subtype (e.g. 'PCM_16'), audio_path / metadata_path /
               video_path relative to the manual_dir ('' when absent)

Class names, the metadata format and the label rate of a dataset are in its
`DatasetInfo.metadata` (see `dataset_metadata`).

The helpers here are the single conversion between records and the rest of
the library: builders call `example_from`, the input pipeline calls
`events_from_example` and `audio_from_example`. They accept examples decoded
by `tfds.data_source` (numpy, text as bytes or str) and by `tfds.as_numpy`.
"""

from __future__ import annotations

from collections.abc import Mapping
import math
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from seld_jax import events as events_lib

# Audio dtypes a record can hold and their float scale.
AUDIO_SCALES = {
    np.dtype(np.int16): 2.0**-15,
    np.dtype(np.int32): 2.0**-31,
}

# The event columns and their on-disk dtypes.
EVENT_DTYPES = {
    'frame': np.int32,
    'class_index': np.int32,
    'source': np.int32,
    'azimuth': np.float64,
    'elevation': np.float64,
    'distance': np.float64,
    'onscreen': np.int8,
}

PROVENANCE_TEXT = (
    'dataset',
    'format',
    'split_folder',
    'pcm_subtype',
    'audio_path',
    'metadata_path',
    'video_path',
)
PROVENANCE_INT = ('fold', 'room')

AUDIO_FORMATS = ('foa', 'mic', 'stereo', 'mono')


def audio_scale(dtype) -> float:
  """The factor turning integer samples of `dtype` into floats in [-1, 1)."""
  dtype = np.dtype(dtype)
  if dtype not in AUDIO_SCALES:
    raise ValueError(
        f'Record audio must be int16 or int32, got {dtype}; see AUDIO_SCALES.'
    )
  return AUDIO_SCALES[dtype]


def features_dict(
    num_channels: int,
    sample_rate: int,
    audio_dtype=np.int16,
    video: tuple[int, int] | None = None,
) -> tfds.features.FeaturesDict:
  """The feature structure of one recording (see the module docstring).

  Args:
    num_channels: audio channels of every recording.
    sample_rate: the dataset's sample rate (also stored per example).
    audio_dtype: np.int16 or np.int32.
    video: (height, width) of the stored video frames, or None for no video.

  Returns:
    The `tfds.features.FeaturesDict`.
  """
  audio_scale(audio_dtype)  # Validates the dtype.
  text = tfds.features.Text
  event_features = {
      name: tfds.features.Tensor(shape=(None,), dtype=dtype, encoding='bytes')
      for name, dtype in EVENT_DTYPES.items()
  }
  provenance = {name: text() for name in PROVENANCE_TEXT}
  provenance.update(
      {name: tfds.features.Scalar(dtype=np.int32) for name in PROVENANCE_INT}
  )
  provenance['labeled'] = tfds.features.Scalar(dtype=np.bool_)
  features = {
      'id': text(),
      # A raw-bytes Tensor, not `tfds.features.Audio`: Audio ignores
      # `encoding=` for numpy input (tfds 4.9.10) and would store every
      # sample as an int64 varint.
      'audio': tfds.features.Tensor(
          shape=(None, num_channels),
          dtype=audio_dtype,
          encoding='bytes',
          doc=tfds.features.Documentation(
              desc=(
                  f'PCM [num_samples, {num_channels}] at {sample_rate} Hz; '
                  'float = audio * audio_scale'
              )
          ),
      ),
      'audio_scale': tfds.features.Scalar(dtype=np.float32),
      'sample_rate': tfds.features.Scalar(dtype=np.int32),
      'num_frames': tfds.features.Scalar(dtype=np.int32),
      'label_rate': tfds.features.Scalar(dtype=np.float32),
      'events': tfds.features.FeaturesDict(event_features),
      'provenance': tfds.features.FeaturesDict(provenance),
  }
  if video is not None:
    height, width = video
    features['video'] = tfds.features.Video(
        shape=(None, height, width, 3), encoding_format='jpeg'
    )
  return tfds.features.FeaturesDict(features)


def dataset_metadata(
    class_names, label_rate: float, metadata_format: str, **extra
) -> tfds.core.MetadataDict:
  """The dataset-level facts stored in `DatasetInfo.metadata`."""
  return tfds.core.MetadataDict(
      class_names=list(class_names),
      num_classes=len(class_names),
      label_rate=float(label_rate),
      metadata_format=metadata_format,
      **extra,
  )


def num_label_frames(
    num_samples: int, sample_rate: float, label_rate: float
) -> int:
  """Label frames whose start lies inside the audio.

  Frame k starts at k / label_rate seconds; it is covered when that start is
  before the end of the audio, so the count is
  ceil(num_samples * label_rate / sample_rate) (exact integer arithmetic when
  the rates are integers or 44100/512).
  """
  x = num_samples * float(label_rate) / float(sample_rate)
  nearest = round(x)
  if abs(x - nearest) < 1e-9:
    return int(nearest)
  return int(math.ceil(x))


def example_from(
    *,
    id: str,  # pylint: disable=redefined-builtin
    audio: np.ndarray,
    sample_rate: int,
    events: events_lib.EventTable,
    provenance: Mapping[str, Any],
    num_frames: int | None = None,
    video: np.ndarray | None = None,
) -> dict[str, Any]:
  """The dict a builder yields for one recording.

  Args:
    id: the stable example id (never a path).
    audio: int16 or int32 [num_samples, num_channels].
    sample_rate: Hz.
    events: the recording's events at `events.label_rate`.
    provenance: the provenance fields (see the module docstring); absent keys
      get their 'unknown' values ('' for text, -1 for fold/room, labeled True).
    num_frames: label frames; defaults to `num_label_frames(...)` of the audio.
    video: optional uint8 [num_frames, height, width, 3].

  Returns:
    A dict matching `features_dict(...)`.
  """
  if not id or '\\' in id or id.startswith('/') or ':' in id:
    raise ValueError(f'Example ids must be relative, non-empty: {id!r}.')
  audio = np.asarray(audio)
  if audio.ndim != 2:
    raise ValueError(f'{id}: audio must be [num_samples, channels].')
  scale = audio_scale(audio.dtype)
  if num_frames is None:
    num_frames = num_label_frames(len(audio), sample_rate, events.label_rate)
  prov = {name: '' for name in PROVENANCE_TEXT}
  prov.update({name: -1 for name in PROVENANCE_INT})
  prov['labeled'] = True
  unknown = set(provenance) - set(prov)
  if unknown:
    raise ValueError(f'{id}: unknown provenance fields {sorted(unknown)}.')
  prov.update(provenance)
  if prov['format'] and prov['format'] not in AUDIO_FORMATS:
    raise ValueError(
        f'{id}: provenance format {prov["format"]!r} is not one of '
        f'{AUDIO_FORMATS}.'
    )
  prov['labeled'] = bool(prov['labeled'])
  for name in PROVENANCE_INT:
    prov[name] = np.int32(prov[name])
  example = {
      'id': id,
      'audio': audio,
      'audio_scale': np.float32(scale),
      'sample_rate': np.int32(sample_rate),
      'num_frames': np.int32(num_frames),
      'label_rate': np.float32(events.label_rate),
      'events': {
          name: np.asarray(getattr(events, name), dtype)
          for name, dtype in EVENT_DTYPES.items()
      },
      'provenance': prov,
  }
  if video is not None:
    video = np.asarray(video)
    if video.dtype != np.uint8 or video.ndim != 4 or video.shape[-1] != 3:
      raise ValueError(f'{id}: video must be uint8 [frames, height, width, 3].')
    example['video'] = video
  return example


def as_text(value) -> str:
  """A text feature value (bytes from numpy decoding, or str) as str."""
  if isinstance(value, np.ndarray):
    value = value.item()
  if isinstance(value, bytes):
    return value.decode('utf-8')
  return str(value)


def events_from_example(
    example: Mapping[str, Any], class_names: tuple[str, ...] | None = None
) -> events_lib.EventTable:
  """The `EventTable` of a decoded example (num_frames and label rate set)."""
  ev = example['events']
  return events_lib.EventTable(
      frame=np.asarray(ev['frame']),
      class_index=np.asarray(ev['class_index']),
      source=np.asarray(ev['source']),
      azimuth=np.asarray(ev['azimuth']),
      elevation=np.asarray(ev['elevation']),
      distance=np.asarray(ev['distance']),
      onscreen=np.asarray(ev['onscreen']),
      label_rate=float(np.asarray(example['label_rate'])),
      num_frames=int(np.asarray(example['num_frames'])),
      class_names=None if class_names is None else tuple(class_names),
  )


def audio_from_example(
    example: Mapping[str, Any],
    start: int = 0,
    stop: int | None = None,
) -> np.ndarray:
  """Float32 audio [channels, samples] of a decoded example.

  Args:
    example: a decoded example.
    start: first sample (only this slice is converted).
    stop: end sample (exclusive); None for the end.

  Returns:
    float32 [C, stop - start] in [-1, 1).
  """
  pcm = np.asarray(example['audio'])[start:stop]
  scale = np.float32(example.get('audio_scale', audio_scale(pcm.dtype)))
  out = np.empty(pcm.shape[::-1], np.float32)
  return np.multiply(pcm.T, scale, out=out)
