"""The ONNX protobuf wire format, read and written directly: varints, length-delimited
fields, tensors and nodes — what the in-memory model rewrites (:mod:`.onnx_int8`,
:mod:`.onnx_bert`) need, without the ``onnx`` package."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# ONNX protobuf field numbers (onnx/onnx.proto3).
MODEL_GRAPH = 7
GRAPH_NODE, GRAPH_INITIALIZER = 1, 5
NODE_INPUT, NODE_OUTPUT, NODE_NAME, NODE_OP_TYPE, NODE_ATTRIBUTE, NODE_DOMAIN = \
    1, 2, 3, 4, 5, 7
ATTR_NAME, ATTR_I = 1, 3
TENSOR_DIMS, TENSOR_DATA_TYPE, TENSOR_NAME, TENSOR_RAW = 1, 2, 8, 9
FLOAT, UINT8, INT8, FLOAT16 = 1, 2, 3, 10
GRAPH_NAME, GRAPH_INPUT, GRAPH_OUTPUT = 2, 11, 12
TENSOR_FLOAT_DATA, TENSOR_INT32_DATA = 4, 5
ATTR_F, ATTR_TYPE = 2, 20
ATTR_FLOAT, ATTR_INT = 1, 2
INT32, INT64 = 6, 7

VARINT, FIXED64, BYTES, FIXED32 = 0, 1, 2, 5


class Unsupported(Exception):
    """The model is not in the shape this rewrite understands."""


def varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise Unsupported("bad varint")


def message_fields(data: bytes) -> Iterator[tuple[int, int, Any, bytes]]:
    """(field number, wire type, value, the field's raw bytes) of one message."""
    pos = 0
    while pos < len(data):
        begin = pos
        key, pos = varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == VARINT:
            value, pos = varint(data, pos)
        elif wire == BYTES:
            length, pos = varint(data, pos)
            value = data[pos:pos + length]
            pos += length
        elif wire == FIXED64:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == FIXED32:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise Unsupported(f"wire type {wire}")
        if pos > len(data):
            raise Unsupported("truncated message")
        yield number, wire, value, data[begin:pos]


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def bytes_field(number: int, payload: bytes) -> bytes:
    return encode_varint(number << 3 | BYTES) + encode_varint(len(payload)) + payload


def varint_field(number: int, value: int) -> bytes:
    return encode_varint(number << 3 | VARINT) + encode_varint(value)


@dataclass(slots=True)
class Tensor:
    dims: list[int]
    data_type: int
    raw: bytes | None = None  # raw_data
    floats: list[float] = field(default_factory=list)  # float_data
    ints: list[int] = field(default_factory=list)  # int32_data

    @property
    def raw_bytes(self) -> bytes:
        if self.raw is None:
            raise Unsupported("tensor without raw data")
        return self.raw

    def array(self) -> Any:
        """The tensor as a numpy array of its shape."""
        import numpy as np

        types = {FLOAT: np.float32, UINT8: np.uint8, INT8: np.int8, INT32: np.int32,
                 INT64: np.int64}
        if self.data_type not in types:
            raise Unsupported(f"tensor type {self.data_type}")
        if self.raw is not None:
            array = np.frombuffer(self.raw, dtype=types[self.data_type])
        elif self.floats:
            array = np.asarray(self.floats, dtype=np.float32)
        else:
            array = np.asarray(self.ints, dtype=types[self.data_type])
        if array.size != int(np.prod(self.dims, dtype=np.int64)):
            raise Unsupported("tensor size")
        return array.reshape(self.dims)


def parse_tensor(data: bytes) -> tuple[str, Tensor]:
    name, tensor = "", Tensor([], 0)
    for number, wire, value, _ in message_fields(data):
        if number == TENSOR_NAME:
            name = bytes(value).decode()
        elif number in (TENSOR_DIMS, TENSOR_INT32_DATA):
            target = tensor.dims if number == TENSOR_DIMS else tensor.ints
            if wire == BYTES:  # packed
                pos = 0
                while pos < len(value):
                    item, pos = varint(value, pos)
                    target.append(item)
            else:
                target.append(value)
        elif number == TENSOR_DATA_TYPE:
            tensor.data_type = value
        elif number == TENSOR_RAW:
            tensor.raw = bytes(value)
        elif number == TENSOR_FLOAT_DATA:
            packed = bytes(value)
            tensor.floats.extend(struct.unpack(f"<{len(packed) // 4}f", packed))
    return name, tensor


def encode_tensor(name: str, dims: list[int], data_type: int, raw: bytes) -> bytes:
    out = b"".join(varint_field(TENSOR_DIMS, d) for d in dims)
    out += varint_field(TENSOR_DATA_TYPE, data_type)
    out += bytes_field(TENSOR_NAME, name.encode())
    out += bytes_field(TENSOR_RAW, raw)
    return out


@dataclass(slots=True)
class Node:
    op_type: str
    inputs: list[str]
    outputs: list[str]
    name: str
    ints: dict[str, int]
    floats: dict[str, float] = field(default_factory=dict)


def parse_node(data: bytes) -> Node:
    node = Node("", [], [], "", {})
    for number, _, value, _ in message_fields(data):
        if number == NODE_OP_TYPE:
            node.op_type = bytes(value).decode()
        elif number == NODE_INPUT:
            node.inputs.append(bytes(value).decode())
        elif number == NODE_OUTPUT:
            node.outputs.append(bytes(value).decode())
        elif number == NODE_NAME:
            node.name = bytes(value).decode()
        elif number == NODE_ATTRIBUTE:
            attr_name, attr_int, attr_float = "", None, None
            for a_number, wire, a_value, _ in message_fields(value):
                if a_number == ATTR_NAME:
                    attr_name = bytes(a_value).decode()
                elif a_number == ATTR_I:
                    attr_int = a_value
                elif a_number == ATTR_F and wire == FIXED32:
                    attr_float = struct.unpack("<f", a_value)[0]
            if attr_int is not None:
                node.ints[attr_name] = attr_int
            if attr_float is not None:
                node.floats[attr_name] = float(attr_float)
    return node


def encode_node(op_type: str, inputs: list[str], outputs: list[str], *, name: str = "",
                domain: str = "", floats: dict[str, float] | None = None,
                ints: dict[str, int] | None = None) -> bytes:
    """A NodeProto's bytes (inputs, outputs, name, op type, attributes, domain)."""
    out = b"".join(bytes_field(NODE_INPUT, i.encode()) for i in inputs)
    out += b"".join(bytes_field(NODE_OUTPUT, o.encode()) for o in outputs)
    if name:
        out += bytes_field(NODE_NAME, name.encode())
    out += bytes_field(NODE_OP_TYPE, op_type.encode())
    for key, f in (floats or {}).items():
        out += bytes_field(NODE_ATTRIBUTE, bytes_field(ATTR_NAME, key.encode())
                           + encode_varint(ATTR_F << 3 | FIXED32) + struct.pack("<f", f)
                           + varint_field(ATTR_TYPE, ATTR_FLOAT))
    for key, i in (ints or {}).items():
        out += bytes_field(NODE_ATTRIBUTE, bytes_field(ATTR_NAME, key.encode())
                           + varint_field(ATTR_I, i) + varint_field(ATTR_TYPE, ATTR_INT))
    if domain:
        out += bytes_field(NODE_DOMAIN, domain.encode())
    return out


def with_graph(model: bytes, rewrite: Callable[[bytes], bytes]) -> bytes | None:
    """``model`` (a ModelProto) with its graph replaced by ``rewrite(graph)``; None when it
    has no graph."""
    parts: list[bytes] = []
    found = False
    for number, _, value, raw in message_fields(model):
        if number == MODEL_GRAPH and not found:
            parts.append(bytes_field(MODEL_GRAPH, rewrite(bytes(value))))
            found = True
        else:
            parts.append(raw)
    return b"".join(parts) if found else None
