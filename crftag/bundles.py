"""Named bundles of arrays for compiled kernels.

A kernel takes a few named tuples (the feature tables, a type-cache snapshot,
the linear weights) rather than dozens of positional arrays whose order is kept
by hand. Each bundle class declares the dtype and dimensions of its fields; the
constructor makes every array C-contiguous with that dtype, so numba's type of
a bundle is known in advance. It is registered once, and passing a bundle to a
kernel costs no per-call type inference (numba's own inference for a named tuple
costs about 0.2 us per field, per call).
"""

from __future__ import annotations

import inspect
from collections import namedtuple

import numpy as np
from numba import types
from numba.extending import typeof_impl
from numba.np.numpy_support import from_dtype

#: A field's declaration: a numpy dtype and a number of dimensions (0 for a scalar).
Field = tuple[type, int]


def _numba_type(dtype: type, ndim: int) -> types.Type:
    scalar = from_dtype(np.dtype(dtype))
    return scalar if ndim == 0 else types.Array(scalar, ndim, "C")


def bundle(name: str, doc: str, **fields: Field) -> type:
    """A named-tuple class whose fields are arrays (or scalars) of the declared dtypes.

    ``bundle("Weights", "...", keys=(np.uint64, 1), shift=(np.int64, 0))``.
    """
    base = namedtuple(name, list(fields))

    specs = [(np.dtype(dtype), ndim) for dtype, ndim in fields.values()]

    def __new__(cls, *args, **kwargs):
        values = args if not kwargs and len(args) == len(specs) else base.__new__(cls, *args, **kwargs)
        coerced = []
        for value, (dtype, ndim) in zip(values, specs, strict=True):
            if ndim == 0:
                coerced.append(dtype.type(value))
            elif (type(value) is np.ndarray and value.dtype == dtype and value.ndim == ndim
                  and value.flags.c_contiguous):
                coerced.append(value)  # the common case, checked cheaply
            else:
                arr = np.ascontiguousarray(value, dtype=dtype)
                if arr.ndim != ndim:
                    raise ValueError(f"{name}: expected a {ndim}-d array, got shape {arr.shape}")
                coerced.append(arr)
        return base.__new__(cls, *coerced)

    __new__.__signature__ = inspect.signature(base.__new__)  # what numba reads to build one in a kernel
    cls = type(name, (base,), {"__slots__": (), "__new__": __new__, "__doc__": doc,
                               "__module__": _caller_module()})
    numba_type = types.NamedTuple([_numba_type(*f) for f in fields.values()], cls)
    typeof_impl.register(cls)(lambda val, c: numba_type)
    return cls


def _caller_module() -> str:
    import sys

    return sys._getframe(2).f_globals["__name__"]
