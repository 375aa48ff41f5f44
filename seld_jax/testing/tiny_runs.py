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

"""Settings that shrink an audio-visual run to a few seconds, for tests."""

from __future__ import annotations

import ml_collections


def shrink_av_run(
    config: ml_collections.ConfigDict, data_dir, *, dataset: str
) -> ml_collections.ConfigDict:
  """Makes a DCASE-style AV config (CRNN + transformer decoder) tiny.

  A two-step run of 1-s windows in batches of 4, with 4-channel convolutions,
  an 8-wide recurrent layer and decoder, one decoder layer and a two-block
  visual CNN, evaluated and checkpointed at step 2. Changes `config` in place.

  Args:
    config: an AV baseline or ASMA-SELD config with a small-CNN visual front
      end.
    data_dir: the TFDS data dir holding `dataset`.
    dataset: the built dataset's `name/config`.

  Returns:
    `config`.
  """
  config.dataset = dataset
  config.data_dir = str(data_dir)
  config.window_seconds = 1.0
  config.eval_hop_seconds = 1.0
  config.batch_size = 4
  config.eval_batch_size = 4
  config.model_kwargs.update(
      conv_channels=4,
      rnn_size=8,
      num_heads=2,
      fnn_size=8,
      num_decoder_layers=1,
      decoder_heads=2,
      decoder_ffn_dim=8,
  )
  config.model_kwargs.visual_frontend.channels = (4, 8)
  config.num_train_steps = 2
  config.log_every_steps = 2
  config.eval_every_steps = 2
  config.checkpoint_every_steps = 2
  return config
