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

"""Datasets named by config: find them built, or build them on first use.

`config.dataset` is `<builder>/<config>` (e.g. 'starss23/foa',
'synthetic_seld/foa'), `config.data_dir` the TFDS data dir. A dataset that
needs no manual download (the embedded synthetic one) is built automatically
the first time it is used; one that needs the user's files is built from
`config.manual_dir` when given, else the error says which `tfds build`
command to run.
"""

from __future__ import annotations

import importlib

from absl import logging
import jax
from jax.experimental import multihost_utils
import tensorflow_datasets as tfds


def _register(name: str):
  """Imports the `data_builders/<name>` builder so TFDS knows its class."""
  try:
    importlib.import_module(f'data_builders.{name}.{name}_dataset_builder')
  except ModuleNotFoundError as e:
    if e.name and e.name.startswith('data_builders'):
      return None
    raise
  return name


def _prepared(dataset: str, data_dir: str | None) -> bool:
  try:
    builder = tfds.builder(dataset, data_dir=data_dir)
  except (tfds.core.registered.DatasetNotFoundError, ValueError):
    return False
  return builder.is_prepared()


def ensure_built(config) -> None:
  """Builds `config.dataset` (process 0) unless it is already prepared."""
  dataset = config.dataset
  data_dir = config.get('data_dir')
  name = dataset.split('/')[0]
  _register(name)
  if _prepared(dataset, data_dir):
    return
  if jax.process_index() == 0:
    try:
      builder = tfds.builder(
          dataset, data_dir=data_dir, file_format='array_record'
      )
    except tfds.core.registered.DatasetNotFoundError:
      raise ValueError(
          f'Dataset {dataset!r} is neither built in data_dir={data_dir!r} '
          'nor a builder under data_builders/. Build it with `tfds build '
          f'data_builders/{name} --manual_dir DIR --file_format array_record`'
          ' and set --config.data_dir.'
      ) from None
    manual_dir = config.get('manual_dir')
    if builder.MANUAL_DOWNLOAD_INSTRUCTIONS and not manual_dir:
      raise ValueError(
          f'Dataset {dataset!r} is not built in data_dir={data_dir!r} and '
          'needs your copy of the data: run `tfds build '
          f'data_builders/{name} --config {dataset.split("/")[-1]} '
          '--manual_dir DIR --file_format array_record` (or set '
          '--config.manual_dir=DIR).'
      )
    logging.info('Building %s in %s (first use).', dataset, builder.data_dir)
    builder.download_and_prepare(
        file_format='array_record',
        download_config=tfds.download.DownloadConfig(manual_dir=manual_dir),
    )
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(f'dataset_built:{dataset}')
