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

"""synthetic_seld dataset.

`tfds build data_builders/synthetic_seld` imports this package with only
`data_builders/` on `sys.path`; when seld_jax is not installed
(`pip install -e .`), the repository root is added so the builder can import
it.
"""

import importlib.util
import pathlib
import sys

if importlib.util.find_spec('seld_jax') is None:
  sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
