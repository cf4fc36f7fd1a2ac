"""Verified bytes into arrays: dtypes as safetensors and GGUF spell them."""

from __future__ import annotations

from typing import Any, Sequence

from ._core import ModeldaError

# safetensors dtype -> numpy dtype (little-endian, as the format stores).
_NP = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U64": "<u8",
    "U32": "<u4",
    "U16": "<u2",
    "U8": "u1",
    "BOOL": "?",
}

# GGUF's unquantized tensor types, as the manifest spells them.
_GGUF_NP = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
}

_PT = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
}


def _unsupported(dtype: str, framework: str, fmt: str) -> ModeldaError:
    hint = {
        "np": 'load it with framework="pt" (torch has it) or framework="bytes"',
        "pt": 'load it with framework="bytes" and decode it yourself',
    }.get(framework, "")
    e = ModeldaError(f"a {fmt} tensor of dtype {dtype} has no {framework} type; {hint}")
    e.code = "UNSUPPORTED_DTYPE"
    return e


def to_array(data: bytearray, dtype: str, shape: Sequence[int], fmt: str, framework: str) -> Any:
    """Verified tensor bytes as an array of `framework` ("np", "pt" or
    "bytes"), typed and shaped as the manifest says. GGUF stores its
    dimensions fastest first; they are reversed, as the `gguf` package
    does."""
    if framework == "bytes":
        return bytes(data)
    gguf = fmt == "gguf"
    dims = list(reversed(shape)) if gguf else list(shape)
    if framework == "np":
        import numpy as np

        np_dtype = (_GGUF_NP if gguf else _NP).get(dtype)
        if np_dtype is None:
            raise _unsupported(dtype, "np", fmt)
        return np.frombuffer(data, dtype=np.dtype(np_dtype)).reshape(dims)
    if framework == "pt":
        import torch

        name = None if gguf and dtype not in _GGUF_NP else _PT.get(dtype)
        pt_dtype = getattr(torch, name, None) if name else None
        if pt_dtype is None:
            raise _unsupported(dtype, "pt", fmt)
        if len(data) == 0:
            return torch.empty(dims, dtype=pt_dtype)
        return torch.frombuffer(data, dtype=pt_dtype).reshape(dims)
    e = ModeldaError(f'framework {framework!r}: one of "np", "pt", "bytes"')
    e.code = "BAD_INPUT"
    raise e
