"""Verified bytes into arrays: dtypes as safetensors and GGUF spell them."""

from __future__ import annotations

from typing import Any, Sequence

from ._core import ModeldaError, VerificationError

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

# GGUF's unquantized tensor types, as the manifest spells them: the same
# names as safetensors' for the types both have.
_GGUF_NP = {k: _NP[k] for k in ("F64", "F32", "F16", "I64", "I32", "I16", "I8")}

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


def _check_size(data: Any, dims: Sequence[int], itemsize: int, dtype: str) -> None:
    """The signed shape and dtype must describe exactly the signed bytes
    (claims signed by a stranger's key may say anything)."""
    n = 1
    for d in dims:
        n *= d
    if any(d < 0 for d in dims) or n * itemsize != len(data):
        e = VerificationError(
            f"the manifest says shape {list(dims)} of {dtype}, which is not the tensor's {len(data)} bytes"
        )
        e.code = "CLAIMS_INVALID"
        raise e


def to_array(data: Any, dtype: str, shape: Sequence[int], fmt: str, framework: str) -> Any:
    """Verified tensor bytes (a buffer: a uint8 numpy array) as an array of `framework` ("np", "pt" or
    "bytes"), typed and shaped as the manifest says. GGUF stores its
    dimensions fastest first; they are reversed, as the `gguf` package
    does."""
    if framework == "bytes":
        return bytes(memoryview(data))
    gguf = fmt == "gguf"
    dims = [int(d) for d in (reversed(shape) if gguf else shape)]
    if framework == "np":
        import numpy as np

        np_dtype = (_GGUF_NP if gguf else _NP).get(dtype)
        if np_dtype is None:
            raise _unsupported(dtype, "np", fmt)
        _check_size(data, dims, np.dtype(np_dtype).itemsize, dtype)
        return np.frombuffer(data, dtype=np.dtype(np_dtype)).reshape(dims)
    if framework == "pt":
        import torch

        name = None if gguf and dtype not in _GGUF_NP else _PT.get(dtype)
        pt_dtype = getattr(torch, name, None) if name else None
        if pt_dtype is None:
            raise _unsupported(dtype, "pt", fmt)
        _check_size(data, dims, pt_dtype.itemsize, dtype)
        if len(data) == 0:
            return torch.empty(dims, dtype=pt_dtype)
        return torch.frombuffer(data, dtype=pt_dtype).reshape(dims)
    e = ModeldaError(f'framework {framework!r}: one of "np", "pt", "bytes"')
    e.code = "BAD_INPUT"
    raise e
