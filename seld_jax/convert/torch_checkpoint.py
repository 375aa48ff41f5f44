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

`torch.save` has written three file formats, all read here (the format is
detected from the file):

* zip (torch >= 1.6): `<name>/data.pkl`, a pickle whose tensors refer to
  storages by key, and `<name>/data/<key>`, the raw storage bytes (byte order
  in `<name>/byteorder`, little-endian when absent).
* legacy (torch 0.1.10 - 1.5, and `_use_new_zipfile_serialization=False`
  since): pickles one after another in one file, namely the magic number
  0x1950a86a20f9469cfc6c, the protocol version 1001, a sys_info dict, the
  object (tensors refer to storages by the persistent id `('storage',
  storage_type, key, location, numel[, view])`), the sorted list of storage
  keys, then per key an int64 element count and the storage bytes (always
  little-endian). Most published pre-2020 weights use it, e.g.
  pytorch-i3d's `rgb_imagenet.pt`.
* tar (torch < 0.1.10): members `storages` (count, then per storage a
  pickled `(key, location, storage_type)` header, an int64 element count and
  the bytes; then the storage views), `tensors` (count, then per tensor a
  pickled `(key, storage_key, tensor_type)` header, ndim, sizes, strides and
  offset) and `pickle` (the object; tensors are persistent ids = keys).

In every format the object is unpickled with storages and tensors as
placeholders; the zip and legacy readers then read only the storages behind
the state_dict's tensors (an optimizer state next to it is skipped), the tar
reader has read them all before. Each tensor becomes an array copied out of
its storage (so views, strided tensors and storages shared by several tensors
come out as torch shows them). The unpickler resolves the handful of torch globals a
`state_dict` pickle uses and refuses every other global, so loading an
untrusted file cannot run code; tensor bounds are checked against their
storage before any strided view is made.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from collections.abc import Iterable
import io
import os
import pickle
import struct
import tarfile
import zipfile
import zlib

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

# Storage class name -> element dtype as stored. bfloat16 (no numpy dtype) is
# stored as uint16 and widened to float32 (exactly) when a tensor is built.
_STORAGE_DTYPES = {
    'FloatStorage': 'float32',
    'DoubleStorage': 'float64',
    'HalfStorage': 'float16',
    'BFloat16Storage': 'bfloat16',
    'LongStorage': 'int64',
    'IntStorage': 'int32',
    'ShortStorage': 'int16',
    'CharStorage': 'int8',
    'ByteStorage': 'uint8',
    'BoolStorage': 'bool',
    'UntypedStorage': 'uint8',
}

# `torch.<dtype>` global -> the same names.
_TORCH_DTYPES = {
    'float32': 'float32',
    'float': 'float32',
    'float64': 'float64',
    'double': 'float64',
    'float16': 'float16',
    'half': 'float16',
    'bfloat16': 'bfloat16',
    'int64': 'int64',
    'long': 'int64',
    'int32': 'int32',
    'int': 'int32',
    'int16': 'int16',
    'short': 'int16',
    'int8': 'int8',
    'uint8': 'uint8',
    'bool': 'bool',
}

# Modules whose `*Storage` / `*Tensor` classes name an element type (CUDA
# saves of the legacy and tar formats use `torch.cuda.FloatStorage`).
_TYPE_MODULES = ('torch', 'torch.cuda', 'torch.storage')


class CheckpointError(ValueError):
  """A file that is not a readable PyTorch state_dict checkpoint."""


class _ElementType:
  """A storage class or torch dtype from the pickle: an element type."""

  def __init__(self, name: str, dtype_name: str):
    self.name = name
    self.dtype_name = dtype_name


class _TensorType:
  """A `torch.FloatTensor`-like class, named in tar-format tensor headers."""

  def __init__(self, name: str):
    self.name = name


class _Storage:
  """A 1-D torch storage; `data` is filled once its bytes are read."""

  def __init__(self, key: str, dtype_name: str, numel: int | None):
    self.key = key
    self.dtype_name = dtype_name
    self.numel = numel
    self.data: np.ndarray | None = None
    # A legacy storage view: `numel` elements of `base` from `base_offset`.
    self.base: _Storage | None = None
    self.base_offset = 0

  @property
  def dtype(self) -> np.dtype:
    name = 'uint16' if self.dtype_name == 'bfloat16' else self.dtype_name
    return np.dtype(name).newbyteorder('<')

  def root(self) -> _Storage:
    return self.base if self.base is not None else self

  def array(self) -> np.ndarray:
    if self.base is None:
      return self.data
    start = self.base_offset
    return self.base.array()[start : start + self.numel]


class _Tensor:
  """A tensor waiting for its storage's bytes."""

  def __init__(self, storage, offset, size, stride):
    self.storage = storage
    self.offset = offset
    self.size = tuple(size)
    self.stride = tuple(stride)


def _rebuild_tensor(storage, offset, size, stride, *unused):
  # `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
  # backward_hooks[, metadata])` and the older `_rebuild_tensor`.
  return _Tensor(storage, offset, size, stride)


def _rebuild_parameter(data, *unused):
  # `_rebuild_parameter(data, requires_grad, backward_hooks[, state])`.
  return data


class _Unpickler(pickle.Unpickler):
  """Resolves only the globals a state_dict needs; refuses all others.

  `persistent_load` is delegated to `resolve` (None: persistent ids refused,
  for the plain header pickles).
  """

  def __init__(
      self,
      file,
      path: str,
      resolve: Callable[[object], object] | None = None,
      tensor_types: bool = False,
  ):
    super().__init__(file, encoding='utf-8')
    self._path = path
    self._resolve = resolve
    self._tensor_types = tensor_types

  def find_class(self, module, name):
    if module == 'collections' and name == 'OrderedDict':
      return collections.OrderedDict
    if module == 'torch._utils' and name in (
        '_rebuild_tensor_v2',
        '_rebuild_tensor',
    ):
      return _rebuild_tensor
    if module == 'torch._utils' and name in (
        '_rebuild_parameter',
        '_rebuild_parameter_with_state',
    ):
      return _rebuild_parameter
    if module in _TYPE_MODULES and name in _STORAGE_DTYPES:
      return _ElementType(name, _STORAGE_DTYPES[name])
    if module == 'torch' and name in _TORCH_DTYPES:
      return _ElementType(name, _TORCH_DTYPES[name])
    if (
        self._tensor_types
        and module in _TYPE_MODULES
        and name.endswith('Tensor')
    ):
      return _TensorType(name)
    raise CheckpointError(
        f'{self._path}: refusing to load pickle global {module}.{name}; only '
        'plain state_dict checkpoints (tensors in dicts) are supported.'
    )

  def persistent_load(self, pid):
    if self._resolve is None:
      raise CheckpointError(f'{self._path}: unexpected persistent id {pid!r}.')
    return self._resolve(pid)


def _dtype_name(element_type, path: str) -> str:
  if not isinstance(element_type, _ElementType):
    raise CheckpointError(f'{path}: unsupported storage type {element_type!r}.')
  return element_type.dtype_name


def _load_pickle(
    file, path: str, resolve=None, tensor_types: bool = False
) -> object:
  """One pickle from `file`; malformed data raises a CheckpointError."""
  try:
    return _Unpickler(file, path, resolve, tensor_types).load()
  except CheckpointError:
    raise
  except Exception as e:  # pickle reports bad data with many error types.
    raise CheckpointError(
        f'{path}: truncated or corrupt pickle data ({type(e).__name__}: {e}).'
    ) from None


def _read_exact(file, n: int, path: str, what: str) -> bytes:
  data = file.read(n)
  if len(data) != n:
    raise CheckpointError(
        f'{path}: file truncated: {what} needs {n} bytes, {len(data)} left.'
    )
  return data


def _read_storage_bytes(file, storage: _Storage, path: str):
  """Reads an int64 element count and that many elements into `storage`."""
  (count,) = struct.unpack(
      '<q', _read_exact(file, 8, path, f'the size of storage {storage.key}')
  )
  if count < 0 or (storage.numel is not None and count != storage.numel):
    raise CheckpointError(
        f'{path}: storage {storage.key} holds {count} elements, the pickle '
        f'says {storage.numel}; corrupt file?'
    )
  nbytes = count * storage.dtype.itemsize
  raw = _read_exact(file, nbytes, path, f'storage {storage.key}')
  storage.data = np.frombuffer(raw, dtype=storage.dtype)


def _skip_storage_bytes(file, storage: _Storage, path: str):
  (count,) = struct.unpack(
      '<q', _read_exact(file, 8, path, f'the size of storage {storage.key}')
  )
  file.seek(count * storage.dtype.itemsize, os.SEEK_CUR)


def _storage_resolver(path: str, storages: dict[str, _Storage]):
  """persistent_load of the zip and legacy formats."""

  def resolve(pid):
    if (
        not isinstance(pid, tuple)
        or len(pid) not in (5, 6)
        or pid[0] != 'storage'
    ):
      raise CheckpointError(f'{path}: unexpected persistent id {pid!r}.')
    dtype_name = _dtype_name(pid[1], path)
    key, numel = str(pid[2]), int(pid[4])
    if key not in storages:
      storages[key] = _Storage(key, dtype_name, numel)
    storage = storages[key]
    if storage.dtype_name != dtype_name:
      raise CheckpointError(
          f'{path}: storage {key} is read as {storage.dtype_name} and '
          f'{dtype_name}.'
      )
    view = pid[5] if len(pid) == 6 else None
    if view is None:
      return storage
    # (view key, offset, numel), in elements (torch < 1.0 storage views).
    view_key, offset, view_numel = str(view[0]), int(view[1]), int(view[2])
    if view_key not in storages:
      storages[view_key] = _Storage(view_key, dtype_name, view_numel)
      storages[view_key].base = storage
      storages[view_key].base_offset = offset
    return storages[view_key]

  return resolve


def _unwrap(obj, path: str) -> dict:
  """The state_dict in `obj` (itself, or under 'state_dict' / 'model')."""
  if isinstance(obj, dict):
    for key in ('state_dict', 'model'):
      if key in obj and isinstance(obj[key], dict):
        obj = obj[key]
        break
  if not isinstance(obj, dict):
    raise CheckpointError(f'{path}: expected a dict, got {type(obj).__name__}')
  return obj


def _tensors(state: dict) -> dict[str, _Tensor]:
  return {k: v for k, v in state.items() if isinstance(v, _Tensor)}


def _needed_roots(tensors: Iterable[_Tensor]) -> dict[int, _Storage]:
  out = {}
  for t in tensors:
    if isinstance(t.storage, _Storage):
      out[id(t.storage.root())] = t.storage.root()
  return out


def _to_array(name: str, tensor: _Tensor, path: str) -> np.ndarray:
  """A copy of `tensor`'s elements, after checking them against bounds."""
  storage = tensor.storage
  if not isinstance(storage, _Storage):
    raise CheckpointError(f'{path}: tensor {name} has no storage.')
  array = storage.array()
  if array is None:
    raise CheckpointError(f'{path}: storage {storage.key} has no data.')
  size, stride, offset = tensor.size, tensor.stride, tensor.offset
  layout = (offset, *size, *stride)
  if (
      len(size) != len(stride)
      or not all(isinstance(x, int) for x in layout)
      or min(layout) < 0
  ):
    raise CheckpointError(
        f'{path}: tensor {name} has a bad layout (size {size}, stride '
        f'{stride}, offset {offset}).'
    )
  native = array.dtype.newbyteorder('=')
  if 0 in size:
    out = np.zeros(size, native)
  else:
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= array.size:
      raise CheckpointError(
          f'{path}: tensor {name} (size {size}, stride {stride}, offset '
          f'{offset}) reaches past its storage of {array.size} elements.'
      )
    out = np.array(
        np.lib.stride_tricks.as_strided(
            array[offset:],
            shape=size,
            strides=tuple(s * array.itemsize for s in stride),
        ),
        dtype=native,
    )
  if storage.dtype_name == 'bfloat16':
    out = (out.astype(np.uint32) << 16).view(np.float32)
  return out


def _to_arrays(tensors: dict[str, _Tensor], path: str):
  return collections.OrderedDict(
      (k, _to_array(k, t, path)) for k, t in tensors.items()
  )


# The formats
# ---


def _load_zip(path: str) -> dict[str, np.ndarray]:
  with zipfile.ZipFile(path) as archive:
    pkl = [n for n in archive.namelist() if n.endswith('/data.pkl')]
    if len(pkl) != 1:
      raise CheckpointError(f'{path}: no single data.pkl in the archive')
    prefix = pkl[0][: -len('/data.pkl')]
    storages = {}
    with archive.open(pkl[0]) as f:
      obj = _load_pickle(f, path, _storage_resolver(path, storages))
    tensors = _tensors(_unwrap(obj, path))
    order = '<'
    names = set(archive.namelist())
    if (
        f'{prefix}/byteorder' in names
        and archive.read(f'{prefix}/byteorder').strip() == b'big'
    ):
      order = '>'
    for storage in _needed_roots(tensors.values()).values():
      try:
        raw = archive.read(f'{prefix}/data/{storage.key}')
      except KeyError:
        raise CheckpointError(
            f'{path}: the archive has no data for storage {storage.key}.'
        ) from None
      dtype = storage.dtype.newbyteorder(order)
      if len(raw) < storage.numel * dtype.itemsize:
        raise CheckpointError(
            f'{path}: storage {storage.key} has {len(raw)} bytes, '
            f'{storage.numel} elements need {storage.numel * dtype.itemsize}.'
        )
      storage.data = np.frombuffer(raw, dtype, count=storage.numel)
    return _to_arrays(tensors, path)


def _is_legacy(path: str) -> bool:
  with open(path, 'rb') as f:
    head = f.read(64)  # The pickled magic number is < 40 bytes long.
  try:
    return _Unpickler(io.BytesIO(head), path).load() == MAGIC_NUMBER
  except Exception:  # Anything that does not unpickle is not this format.
    return False


def _load_legacy(path: str) -> dict[str, np.ndarray]:
  with open(path, 'rb') as f:
    _load_pickle(f, path)  # The magic number, checked by `_is_legacy`.
    version = _load_pickle(f, path)
    if version != PROTOCOL_VERSION:
      raise CheckpointError(
          f'{path}: legacy checkpoint of protocol version {version!r}, '
          f'expected {PROTOCOL_VERSION}.'
      )
    sys_info = _load_pickle(f, path)
    if not isinstance(sys_info, dict):
      raise CheckpointError(f'{path}: corrupt legacy header (sys_info).')
    storages = {}
    obj = _load_pickle(f, path, _storage_resolver(path, storages))
    keys = _load_pickle(f, path)
    if not isinstance(keys, list):
      raise CheckpointError(f'{path}: corrupt legacy storage key list.')
    tensors = _tensors(_unwrap(obj, path))
    needed = {s.key for s in _needed_roots(tensors.values()).values()}
    for key in map(str, keys):
      if key not in storages:
        raise CheckpointError(
            f'{path}: the storage list names {key}, which the pickle never '
            'uses; corrupt file?'
        )
      if key in needed:
        _read_storage_bytes(f, storages[key], path)
        needed.discard(key)
      elif needed:
        _skip_storage_bytes(f, storages[key], path)
      else:
        break
    if needed:
      raise CheckpointError(
          f'{path}: no data for storages {sorted(needed)}; corrupt file?'
      )
  return _to_arrays(tensors, path)


def _load_tar(path: str) -> dict[str, np.ndarray]:
  objects = {}
  with tarfile.open(path, mode='r:') as tar:
    try:
      storages_file = tar.extractfile('storages')
      tensors_file = tar.extractfile('tensors')
      pickle_file = tar.extractfile('pickle')
    except KeyError as e:
      raise CheckpointError(f'{path}: tar checkpoint without {e}.') from None

    with storages_file as f:
      for _ in range(int(_load_pickle(f, path))):
        key, _, element_type = _load_pickle(f, path)
        storage = _Storage(str(key), _dtype_name(element_type, path), None)
        _read_storage_bytes(f, storage, path)
        objects[storage.key] = storage
      for view_key, root_key, offset, numel in _load_pickle(f, path):
        view = _Storage(str(view_key), objects[str(root_key)].dtype_name, numel)
        view.base, view.base_offset = objects[str(root_key)], int(offset)
        objects[view.key] = view

    with tensors_file as f:
      for _ in range(int(_load_pickle(f, path))):
        key, storage_key, _ = _load_pickle(f, path, tensor_types=True)
        (ndim,) = struct.unpack('<i', _read_exact(f, 8, path, 'ndim')[:4])
        layout = _read_exact(f, 8 * (2 * ndim + 1), path, f'tensor {key}')
        values = struct.unpack(f'<{2 * ndim + 1}q', layout)
        objects[str(key)] = _Tensor(
            objects.get(str(storage_key)),
            values[-1],
            values[:ndim],
            values[ndim : 2 * ndim],
        )

    def resolve(pid):
      if isinstance(pid, tuple) or str(pid) not in objects:
        raise CheckpointError(
            f'{path}: unsupported persistent id {pid!r} (only tensors).'
        )
      return objects[str(pid)]

    with pickle_file as f:
      obj = _load_pickle(f, path, resolve)
  return _to_arrays(_tensors(_unwrap(obj, path)), path)


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """Loads the tensors of a `torch.save(model.state_dict(), path)` file.

  Reads the zip (torch >= 1.6), legacy (torch 0.1.10 - 1.5) and tar (torch <
  0.1.10) formats. Also accepts a checkpoint dict holding the state_dict under
  'state_dict' or 'model' (common training-script layouts). Entries that are
  not tensors (e.g. `_metadata`, epoch counters) are dropped.

  Args:
    path: the checkpoint file.

  Returns:
    Parameter name -> numpy array, in file order. bfloat16 tensors come back
    as float32 (exactly; numpy has no bfloat16).

  Raises:
    CheckpointError: naming the file, when it is missing, in none of the
      formats, truncated or corrupt, or holds objects other than tensors and
      containers.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise CheckpointError(f'{path}: file not found')
  if zipfile.is_zipfile(path):
    fmt, load = 'zip', _load_zip
  elif _is_legacy(path):
    fmt, load = 'legacy', _load_legacy
  elif tarfile.is_tarfile(path):
    fmt, load = 'tar', _load_tar
  else:
    raise CheckpointError(
        f'{path}: not a zip-format, legacy or tar-format PyTorch checkpoint'
    )
  try:
    return load(path)
  except CheckpointError:
    raise
  except (
      zipfile.BadZipFile,
      tarfile.TarError,
      zlib.error,
      struct.error,
      KeyError,
      IndexError,
      TypeError,
      ValueError,
  ) as e:  # Structures that are not what the format says.
    raise CheckpointError(
        f'{path}: corrupt {fmt}-format checkpoint ({type(e).__name__}: {e}).'
    ) from None
