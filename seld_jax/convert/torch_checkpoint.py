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

"""Reads a PyTorch `torch.save` checkpoint into numpy arrays, without torch.

PyTorch (>= 1.6) saves a zip archive holding `<name>/data.pkl` (a pickle
whose tensors refer to storages by key) and `<name>/data/<key>` (the raw
little-endian storage bytes). This reader resolves the handful of torch
globals a `state_dict` pickle uses and refuses every other global, so loading
an untrusted file cannot run code. The legacy (pre-1.6, non-zip) format is not
supported: re-save such a file with a current torch.
"""

from __future__ import annotations

import collections
import os
import pickle
import zipfile

import numpy as np

_STORAGE_DTYPES = {
    'FloatStorage': np.float32,
    'DoubleStorage': np.float64,
    'HalfStorage': np.float16,
    'BFloat16Storage': None,  # handled below
    'LongStorage': np.int64,
    'IntStorage': np.int32,
    'ShortStorage': np.int16,
    'CharStorage': np.int8,
    'ByteStorage': np.uint8,
    'BoolStorage': np.bool_,
}

_TORCH_DTYPES = {
    'float32': np.float32,
    'float': np.float32,
    'float64': np.float64,
    'double': np.float64,
    'float16': np.float16,
    'half': np.float16,
    'int64': np.int64,
    'long': np.int64,
    'int32': np.int32,
    'int': np.int32,
    'int16': np.int16,
    'int8': np.int8,
    'uint8': np.uint8,
    'bool': np.bool_,
}


class CheckpointError(ValueError):
  """A file that is not a readable PyTorch state_dict checkpoint."""


class _StorageType:

  def __init__(self, name: str):
    self.name = name


class _TorchDtype:

  def __init__(self, name: str):
    self.name = name


def _rebuild_tensor(storage, offset, size, stride, *unused):
  array, dtype_name = storage
  if not size:
    return array[offset : offset + 1].reshape(()).copy()
  itemsize = array.itemsize
  view = np.lib.stride_tricks.as_strided(
      array[offset:],
      shape=tuple(size),
      strides=tuple(s * itemsize for s in stride),
  )
  out = np.array(view)
  if dtype_name == 'bfloat16':
    out = (out.astype(np.uint32) << 16).view(np.float32)
  return out


def _rebuild_parameter(data, requires_grad=None, backward_hooks=None, *_):
  return data


class _Unpickler(pickle.Unpickler):
  """Resolves only the globals a state_dict needs."""

  def __init__(self, file, archive: zipfile.ZipFile, prefix: str, path):
    super().__init__(file)
    self._archive = archive
    self._prefix = prefix
    self._path = path
    self._storages = {}

  def find_class(self, module, name):
    if module == 'collections' and name == 'OrderedDict':
      return collections.OrderedDict
    if module == 'torch._utils' and name in (
        '_rebuild_tensor_v2',
        '_rebuild_tensor',
    ):
      return _rebuild_tensor
    if module == 'torch._utils' and name == '_rebuild_parameter':
      return _rebuild_parameter
    if module == 'torch' and name in _STORAGE_DTYPES:
      return _StorageType(name)
    if module == 'torch' and name in _TORCH_DTYPES or name == 'bfloat16':
      return _TorchDtype(name)
    if module == 'torch.storage' and name == 'UntypedStorage':
      return _StorageType('ByteStorage')
    raise CheckpointError(
        f'{self._path}: refusing to load pickle global {module}.{name}; only '
        'plain state_dict checkpoints (tensors in dicts) are supported.'
    )

  def persistent_load(self, pid):
    # ('storage', storage_type, key, location, numel)
    if not isinstance(pid, tuple) or pid[0] != 'storage':
      raise CheckpointError(f'{self._path}: unexpected persistent id {pid!r}.')
    storage_type, key = pid[1], str(pid[2])
    if key in self._storages:
      return self._storages[key]
    name = getattr(storage_type, 'name', None)
    if isinstance(storage_type, _TorchDtype):
      dtype_name = storage_type.name
      dtype = _TORCH_DTYPES.get(dtype_name)
    else:
      dtype_name = 'bfloat16' if name == 'BFloat16Storage' else name
      dtype = _STORAGE_DTYPES.get(name)
    if dtype_name == 'bfloat16':
      dtype = np.uint16
    if dtype is None:
      raise CheckpointError(f'{self._path}: unsupported storage {name!r}.')
    raw = self._archive.read(f'{self._prefix}/data/{key}')
    array = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder('<'))
    self._storages[key] = (array, dtype_name)
    return self._storages[key]


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """Loads the tensors of a `torch.save(model.state_dict(), path)` file.

  Also accepts a checkpoint dict holding the state_dict under 'state_dict'
  or 'model' (common training-script layouts).

  Args:
    path: the checkpoint file.

  Returns:
    Parameter name -> numpy array, in file order.

  Raises:
    CheckpointError: not a zip-format torch checkpoint, or it holds objects
      other than tensors and containers.
  """
  try:
    archive = zipfile.ZipFile(path)
  except FileNotFoundError:
    raise CheckpointError(f'{path}: file not found') from None
  except zipfile.BadZipFile:
    raise CheckpointError(
        f'{path}: not a zip-format PyTorch checkpoint (legacy torch.save '
        'files must be re-saved with torch >= 1.6)'
    ) from None
  with archive:
    pkl = [n for n in archive.namelist() if n.endswith('/data.pkl')]
    if len(pkl) != 1:
      raise CheckpointError(f'{path}: no single data.pkl in the archive')
    prefix = pkl[0][: -len('/data.pkl')]
    with archive.open(pkl[0]) as f:
      obj = _Unpickler(f, archive, prefix, path).load()
  if isinstance(obj, dict):
    for key in ('state_dict', 'model'):
      if key in obj and isinstance(obj[key], dict):
        obj = obj[key]
        break
  if not isinstance(obj, dict):
    raise CheckpointError(f'{path}: expected a dict, got {type(obj).__name__}')
  out = collections.OrderedDict()
  for k, v in obj.items():
    if isinstance(v, np.ndarray):
      out[k] = v
  return out
