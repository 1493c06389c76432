"""Rampart's 4-bit weights re-packed as int8, for onnxruntime's fast dynamic-quantised matmul.

The bundled Rampart model stores its dense layers as ``MatMulNBits`` (4-bit weights in blocks
of 32, one fp32 scale per block). On CPU onnxruntime runs that op in fp32, dequantising as it
goes. ``DynamicQuantizeMatMul`` multiplies int8 activations (quantised per call) by int8
weights with the VNNI / AMX integer kernels instead — measured 2.5× less CPU for the whole
model, with the same names found (see ``benchmarks/README.md``).

:func:`int8_model` rewrites the model *in memory* (nothing is written to disk, nothing is
downloaded): every ``MatMulNBits`` node becomes a ``DynamicQuantizeMatMul`` over the same
weights, dequantised and re-quantised symmetrically per output column. It reads and writes
the ONNX protobuf wire format directly (varints and length-delimited fields), so it needs no
``onnx`` package. A model in any other shape than expected (other bit width, bias, group
index, non-raw tensors) is returned as ``None`` and the caller keeps the original.

Activations are quantised over the whole input of a call, so one call's result depends on
what else is in it: run one sequence per call (``batch_size=1``) for results that do not
depend on the batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# ONNX protobuf field numbers (onnx/onnx.proto3).
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER = 1, 5
_NODE_INPUT, _NODE_OUTPUT, _NODE_NAME, _NODE_OP_TYPE, _NODE_ATTRIBUTE, _NODE_DOMAIN = \
    1, 2, 3, 4, 5, 7
_ATTR_NAME, _ATTR_I = 1, 3
_TENSOR_DIMS, _TENSOR_DATA_TYPE, _TENSOR_NAME, _TENSOR_RAW = 1, 2, 8, 9
_FLOAT, _UINT8, _INT8, _FLOAT16 = 1, 2, 3, 10

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


class _Unsupported(Exception):
    """The model is not in the shape this rewrite understands."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise _Unsupported("bad varint")


def _fields(data: bytes) -> Iterator[tuple[int, int, Any, bytes]]:
    """(field number, wire type, value, the field's raw bytes) of one message."""
    pos = 0
    while pos < len(data):
        begin = pos
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == _VARINT:
            value, pos = _varint(data, pos)
        elif wire == _BYTES:
            length, pos = _varint(data, pos)
            value = data[pos:pos + length]
            pos += length
        elif wire == _FIXED64:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == _FIXED32:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise _Unsupported(f"wire type {wire}")
        if pos > len(data):
            raise _Unsupported("truncated message")
        yield number, wire, value, data[begin:pos]


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | _BYTES) + _encode_varint(len(payload)) + payload


def _varint_field(number: int, value: int) -> bytes:
    return _encode_varint(number << 3 | _VARINT) + _encode_varint(value)


@dataclass(slots=True)
class _Tensor:
    dims: list[int]
    data_type: int
    raw: bytes


def _tensor(data: bytes) -> tuple[str, _Tensor | None]:
    name, dims, data_type, raw = "", [], 0, None
    for number, wire, value, _ in _fields(data):
        if number == _TENSOR_NAME:
            name = bytes(value).decode()
        elif number == _TENSOR_DIMS:
            if wire == _BYTES:  # packed
                pos = 0
                while pos < len(value):
                    dim, pos = _varint(value, pos)
                    dims.append(dim)
            else:
                dims.append(value)
        elif number == _TENSOR_DATA_TYPE:
            data_type = value
        elif number == _TENSOR_RAW:
            raw = bytes(value)
    return name, (_Tensor(dims, data_type, raw) if raw is not None else None)


def _encode_tensor(name: str, dims: list[int], data_type: int, raw: bytes) -> bytes:
    out = b"".join(_varint_field(_TENSOR_DIMS, d) for d in dims)
    out += _varint_field(_TENSOR_DATA_TYPE, data_type)
    out += _bytes_field(_TENSOR_NAME, name.encode())
    out += _bytes_field(_TENSOR_RAW, raw)
    return out


@dataclass(slots=True)
class _Node:
    op_type: str
    inputs: list[str]
    outputs: list[str]
    name: str
    ints: dict[str, int]


def _node(data: bytes) -> _Node:
    node = _Node("", [], [], "", {})
    for number, _, value, _ in _fields(data):
        if number == _NODE_OP_TYPE:
            node.op_type = bytes(value).decode()
        elif number == _NODE_INPUT:
            node.inputs.append(bytes(value).decode())
        elif number == _NODE_OUTPUT:
            node.outputs.append(bytes(value).decode())
        elif number == _NODE_NAME:
            node.name = bytes(value).decode()
        elif number == _NODE_ATTRIBUTE:
            attr_name, attr_int = "", None
            for a_number, _, a_value, _ in _fields(value):
                if a_number == _ATTR_NAME:
                    attr_name = bytes(a_value).decode()
                elif a_number == _ATTR_I:
                    attr_int = a_value
            if attr_int is not None:
                node.ints[attr_name] = attr_int
    return node


def _int8_weights(node: _Node, tensors: dict[str, _Tensor]) -> tuple[bytes, bytes, int, int]:
    """The node's weights as int8 [K, N] and one fp32 scale per column [N]."""
    import numpy as np

    k, n = node.ints.get("K", 0), node.ints.get("N", 0)
    bits, block = node.ints.get("bits", 4), node.ints.get("block_size", 0)
    inputs = node.inputs + [""] * (6 - len(node.inputs))
    if bits != 4 or block < 2 or block % 2 or not k or not n or any(inputs[4:]):
        raise _Unsupported("MatMulNBits variant")
    weights, scales = tensors.get(inputs[1]), tensors.get(inputs[2])
    if weights is None or scales is None or weights.data_type != _UINT8:
        raise _Unsupported("weights are not raw uint8 initializers")
    blocks = (k + block - 1) // block
    packed = np.frombuffer(weights.raw, dtype=np.uint8)
    if packed.size != n * blocks * block // 2:
        raise _Unsupported("weight size")
    packed = packed.reshape(n, blocks, block // 2)
    levels = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(n, blocks, block)
    if scales.data_type == _FLOAT:
        scale = np.frombuffer(scales.raw, dtype=np.float32)
    elif scales.data_type == _FLOAT16:
        scale = np.frombuffer(scales.raw, dtype=np.float16).astype(np.float32)
    else:
        raise _Unsupported("scale type")
    if scale.size != n * blocks:
        raise _Unsupported("scale size")
    if inputs[3]:
        zero_tensor = tensors.get(inputs[3])
        if zero_tensor is None or zero_tensor.data_type != _UINT8:
            raise _Unsupported("zero points")
        zp_packed = np.frombuffer(zero_tensor.raw, dtype=np.uint8).reshape(n, -1)
        zero = np.stack([zp_packed & 0x0F, zp_packed >> 4], axis=-1).reshape(n, -1)[:, :blocks]
    else:
        zero = np.full((n, blocks), 8, dtype=np.uint8)
    dense = ((levels.astype(np.float32) - zero[..., None].astype(np.float32))
             * scale.reshape(n, blocks)[..., None]).reshape(n, blocks * block)[:, :k]
    column_scale = np.abs(dense).max(axis=1) / 127.0
    column_scale[column_scale == 0] = 1.0
    quantised = np.clip(np.rint(dense / column_scale[:, None]), -127, 127).astype(np.int8)
    return (np.ascontiguousarray(quantised.T).tobytes(),
            column_scale.astype(np.float32).tobytes(), k, n)


def _dynamic_node(node: _Node, weight: str, scale: str) -> bytes:
    out = b"".join(_bytes_field(_NODE_INPUT, i.encode()) for i in (node.inputs[0], weight, scale))
    out += b"".join(_bytes_field(_NODE_OUTPUT, o.encode()) for o in node.outputs)
    if node.name:
        out += _bytes_field(_NODE_NAME, node.name.encode())
    out += _bytes_field(_NODE_OP_TYPE, b"DynamicQuantizeMatMul")
    out += _bytes_field(_NODE_DOMAIN, b"com.microsoft")
    return out


def _rewrite_graph(graph: bytes) -> bytes:
    tensors: dict[str, _Tensor] = {}
    initializer_names: dict[int, str] = {}  # field index -> initializer name
    fields = list(_fields(graph))
    for index, (number, _, value, _) in enumerate(fields):
        if number == _GRAPH_INITIALIZER:
            name, tensor = _tensor(value)
            initializer_names[index] = name
            if tensor is not None:
                tensors[name] = tensor
    parts: list[bytes] = []
    replaced: set[str] = set()
    used: set[str] = set()
    extra: list[bytes] = []
    for number, _, value, raw in fields:  # one part per field: indices stay aligned
        if number != _GRAPH_NODE:
            parts.append(raw)
            continue
        node = _node(value)
        if node.op_type != "MatMulNBits":
            used.update(node.inputs)
            parts.append(raw)
            continue
        weights, scales, k, n = _int8_weights(node, tensors)
        base = node.outputs[0] if node.outputs else node.name
        weight_name, scale_name = f"{base}/int8_weight", f"{base}/int8_scale"
        extra.append(_bytes_field(_GRAPH_INITIALIZER,
                                  _encode_tensor(weight_name, [k, n], _INT8, weights)))
        extra.append(_bytes_field(_GRAPH_INITIALIZER,
                                  _encode_tensor(scale_name, [n], _FLOAT, scales)))
        replaced.update(i for i in node.inputs[1:] if i)
        used.add(node.inputs[0])
        parts.append(_bytes_field(_GRAPH_NODE, _dynamic_node(node, weight_name, scale_name)))
    if not replaced:
        raise _Unsupported("no MatMulNBits node")
    drop = replaced - used
    kept = [raw for index, raw in enumerate(parts)
            if initializer_names.get(index) not in drop]
    return b"".join(kept + extra)


def int8_model(model: bytes) -> bytes | None:
    """The model with every ``MatMulNBits`` as an int8 ``DynamicQuantizeMatMul``, or None
    when the model is not in the shape this rewrite understands."""
    try:
        parts: list[bytes] = []
        found = False
        for number, _, value, raw in _fields(model):
            if number == _MODEL_GRAPH and not found:
                parts.append(_bytes_field(_MODEL_GRAPH, _rewrite_graph(bytes(value))))
                found = True
            else:
                parts.append(raw)
        return b"".join(parts) if found else None
    except (_Unsupported, IndexError, ValueError, UnicodeDecodeError):
        return None
