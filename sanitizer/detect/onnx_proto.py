"""The ONNX protobuf wire format, read and written directly: varints, length-delimited
fields, tensors and nodes — what the in-memory model rewrites (:mod:`.onnx_int8`,
:mod:`.onnx_bert`) need, without the ``onnx`` package."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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
    raw: bytes


def parse_tensor(data: bytes) -> tuple[str, Tensor | None]:
    name, dims, data_type, raw = "", [], 0, None
    for number, wire, value, _ in message_fields(data):
        if number == TENSOR_NAME:
            name = bytes(value).decode()
        elif number == TENSOR_DIMS:
            if wire == BYTES:  # packed
                pos = 0
                while pos < len(value):
                    dim, pos = varint(value, pos)
                    dims.append(dim)
            else:
                dims.append(value)
        elif number == TENSOR_DATA_TYPE:
            data_type = value
        elif number == TENSOR_RAW:
            raw = bytes(value)
    return name, (Tensor(dims, data_type, raw) if raw is not None else None)


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
            attr_name, attr_int = "", None
            for a_number, _, a_value, _ in message_fields(value):
                if a_number == ATTR_NAME:
                    attr_name = bytes(a_value).decode()
                elif a_number == ATTR_I:
                    attr_int = a_value
            if attr_int is not None:
                node.ints[attr_name] = attr_int
    return node
