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

r"""Main entry: train and evaluate a SELD model.

  python -m seld_jax.main --config configs/default.py --workdir runs/default

This file is intentionally kept short: the work is in `train.py`.
"""

import os

if __name__ == '__main__':
  # First, before the imports below load JAX: this command may re-execute
  # itself with transparent huge pages on (seld_jax/huge_pages.py).
  from seld_jax import huge_pages

  huge_pages.reexec()

from absl import app
from absl import flags
from absl import logging
import jax
from ml_collections import config_flags

from seld_jax import train

_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for the run.')
config_flags.DEFINE_config_file(
    'config',
    None,
    'File path to the training hyperparameter configuration.',
    lock_config=True,
)
FLAGS = flags.FLAGS


def _maybe_initialize_distributed():
  """Joins a multi-host job when launched on a cluster (SLURM, TPU pod...)."""
  if os.environ.get('SELD_JAX_NO_DISTRIBUTED'):
    return
  try:
    jax.distributed.initialize()
  except (ValueError, RuntimeError) as e:
    # Not a cluster environment (no coordinator to find): single process.
    logging.info('Single-process run (%s).', str(e).splitlines()[0])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError('Too many command-line arguments.')
  # Hide accelerators from TensorFlow (used by TFDS only for metadata).
  try:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top

    tf.config.experimental.set_visible_devices([], 'GPU')
  except ImportError:
    pass
  _maybe_initialize_distributed()
  logging.info(
      'JAX process %d/%d, local devices %s',
      jax.process_index(),
      jax.process_count(),
      jax.local_devices(),
  )
  train.train_and_evaluate(FLAGS.config, _WORKDIR.value)


if __name__ == '__main__':
  flags.mark_flags_as_required(['config', 'workdir'])
  app.run(main)
