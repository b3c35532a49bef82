"""A small, dependency-free reader/writer for the safetensors format.

Layout of a file::

    [8 bytes]  N = length of the JSON header, unsigned 64-bit little-endian
    [N bytes]  JSON header (UTF-8), padded with spaces so that N % 8 == 0
    [rest]     the data buffer; every tensor occupies bytes
               [begin, end) of it, as given by its "data_offsets"

The header maps each tensor name to ``{"dtype", "shape", "data_offsets"}``
and may contain a ``"__metadata__"`` entry mapping strings to strings.
Tensor data is stored row-major (C order), little-endian.

When writing, tensors are laid out by decreasing element size (then by
name), so that, together with the 8-byte aligned start of the data buffer,
every tensor starts at an offset that is a multiple of its element size.
"""

import json
import struct
from typing import Dict, Optional

import numpy as np
import torch

# safetensors dtype name -> (torch dtype, little-endian numpy dtype used to
# move the raw bytes). BF16 has no numpy equivalent: its bits travel as int16.
_DTYPES = {
    "F32": (torch.float32, np.dtype("<f4")),
    "F16": (torch.float16, np.dtype("<f2")),
    "BF16": (torch.bfloat16, np.dtype("<i2")),
    "I8": (torch.int8, np.dtype("i1")),
    "U8": (torch.uint8, np.dtype("u1")),
    "I32": (torch.int32, np.dtype("<i4")),
    "I64": (torch.int64, np.dtype("<i8")),
}
_TORCH_TO_NAME = {torch_dtype: name for name, (torch_dtype, _) in _DTYPES.items()}

_HEADER_LIMIT = 100 * 1024 * 1024  # refuse absurd headers (corrupt files)


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    name = _TORCH_TO_NAME.get(tensor.dtype)
    if name is None:
        raise ValueError(f"unsupported dtype {tensor.dtype}")
    tensor = tensor.detach().cpu().contiguous()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.view(torch.int16)
    array = tensor.numpy()
    return array.astype(_DTYPES[name][1], copy=False).tobytes(order="C")


def save_file(tensors: Dict[str, torch.Tensor], path: str,
              metadata: Optional[Dict[str, str]] = None) -> None:
    """Write ``tensors`` (name -> tensor) to ``path`` in safetensors format."""
    if metadata is not None:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise ValueError("metadata must map str to str")
    for name, tensor in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"invalid tensor name {name!r}")
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"{name} is not a torch.Tensor")
        if tensor.dtype not in _TORCH_TO_NAME:
            raise ValueError(f"{name}: unsupported dtype {tensor.dtype}")

    # Largest elements first keeps each tensor aligned to its element size.
    order = sorted(tensors, key=lambda n: (-tensors[n].element_size(), n))
    header = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name in order:
        tensor = tensors[name]
        data = _tensor_bytes(tensor)
        header[name] = {
            "dtype": _TORCH_TO_NAME[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)

    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for data in chunks:
            f.write(data)


def load_header(path: str):
    """Return (header dict, byte offset of the data buffer)."""
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) != 8:
            raise ValueError(f"{path}: too short for a safetensors file")
        (n,) = struct.unpack("<Q", prefix)
        if n > _HEADER_LIMIT:
            raise ValueError(f"{path}: header length {n} is too large")
        raw = f.read(n)
        if len(raw) != n:
            raise ValueError(f"{path}: truncated header")
    header = json.loads(raw.decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header is not a JSON object")
    return header, 8 + n


def load_metadata(path: str) -> Dict[str, str]:
    header, _ = load_header(path)
    return dict(header.get("__metadata__") or {})


def load_file(path: str) -> Dict[str, torch.Tensor]:
    """Read every tensor of a safetensors file into a dict of CPU tensors."""
    header, data_start = load_header(path)
    with open(path, "rb") as f:
        f.seek(data_start)
        buffer = f.read()

    entries = [(name, info) for name, info in header.items() if name != "__metadata__"]
    # The data buffer must be covered exactly, without gaps or overlaps.
    spans = sorted((info["data_offsets"][0], info["data_offsets"][1], name)
                   for name, info in entries)
    expected_begin = 0
    for begin, end, name in spans:
        if begin != expected_begin or end < begin:
            raise ValueError(f"{path}: bad data_offsets for {name}")
        expected_begin = end
    if expected_begin != len(buffer):
        raise ValueError(f"{path}: data buffer is {len(buffer)} bytes, "
                         f"header describes {expected_begin}")

    out = {}
    for name, info in entries:
        dtype_name = info["dtype"]
        if dtype_name not in _DTYPES:
            raise ValueError(f"{path}: {name} has unsupported dtype {dtype_name}")
        torch_dtype, np_dtype = _DTYPES[dtype_name]
        shape = [int(d) for d in info["shape"]]
        begin, end = info["data_offsets"]
        count = 1
        for d in shape:
            count *= d
        if end - begin != count * np_dtype.itemsize:
            raise ValueError(f"{path}: {name} has {end - begin} bytes for shape {shape}")
        if count == 0:
            array = np.zeros(shape, dtype=np_dtype.newbyteorder("="))
        else:
            array = np.frombuffer(buffer, dtype=np_dtype, count=count, offset=begin)
            array = array.astype(np_dtype.newbyteorder("="), copy=True).reshape(shape)
        tensor = torch.from_numpy(array)
        if torch_dtype == torch.bfloat16:
            tensor = tensor.view(torch.bfloat16)
        out[name] = tensor
    return out
