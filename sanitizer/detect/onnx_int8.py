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

from .onnx_proto import (
    FLOAT,
    FLOAT16,
    GRAPH_INITIALIZER,
    GRAPH_NODE,
    INT8,
    UINT8,
    Node,
    Tensor,
    Unsupported,
    bytes_field,
    encode_node,
    encode_tensor,
    message_fields,
    parse_node,
    parse_tensor,
    with_graph,
)


def int8_weights(node: Node, tensors: dict[str, Tensor]) -> tuple[bytes, bytes, int, int]:
    """The node's weights as int8 [K, N] and one fp32 scale per column [N]."""
    import numpy as np

    k, n = node.ints.get("K", 0), node.ints.get("N", 0)
    bits, block = node.ints.get("bits", 4), node.ints.get("block_size", 0)
    inputs = node.inputs + [""] * (6 - len(node.inputs))
    if bits != 4 or block < 2 or block % 2 or not k or not n or any(inputs[4:]):
        raise Unsupported("MatMulNBits variant")
    weights, scales = tensors.get(inputs[1]), tensors.get(inputs[2])
    if weights is None or scales is None or weights.data_type != UINT8:
        raise Unsupported("weights are not raw uint8 initializers")
    blocks = (k + block - 1) // block
    packed = np.frombuffer(weights.raw_bytes, dtype=np.uint8)
    if packed.size != n * blocks * block // 2:
        raise Unsupported("weight size")
    packed = packed.reshape(n, blocks, block // 2)
    levels = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(n, blocks, block)
    if scales.data_type == FLOAT:
        scale = np.frombuffer(scales.raw_bytes, dtype=np.float32)
    elif scales.data_type == FLOAT16:
        scale = np.frombuffer(scales.raw_bytes, dtype=np.float16).astype(np.float32)
    else:
        raise Unsupported("scale type")
    if scale.size != n * blocks:
        raise Unsupported("scale size")
    if inputs[3]:
        zero_tensor = tensors.get(inputs[3])
        if zero_tensor is None or zero_tensor.data_type != UINT8:
            raise Unsupported("zero points")
        zp_packed = np.frombuffer(zero_tensor.raw_bytes, dtype=np.uint8).reshape(n, -1)
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


def _rewrite_graph(graph: bytes) -> bytes:
    tensors: dict[str, Tensor] = {}
    initializer_names: dict[int, str] = {}  # field index -> initializer name
    fields = list(message_fields(graph))
    for index, (number, _, value, _) in enumerate(fields):
        if number == GRAPH_INITIALIZER:
            name, tensor = parse_tensor(value)
            initializer_names[index] = name
            if tensor.raw is not None:
                tensors[name] = tensor
    parts: list[bytes] = []
    replaced: set[str] = set()
    used: set[str] = set()
    extra: list[bytes] = []
    for number, _, value, raw in fields:  # one part per field: indices stay aligned
        if number != GRAPH_NODE:
            parts.append(raw)
            continue
        node = parse_node(value)
        if node.op_type != "MatMulNBits":
            used.update(node.inputs)
            parts.append(raw)
            continue
        weights, scales, k, n = int8_weights(node, tensors)
        base = node.outputs[0] if node.outputs else node.name
        weight_name, scale_name = f"{base}/int8_weight", f"{base}/int8_scale"
        extra.append(bytes_field(GRAPH_INITIALIZER,
                                  encode_tensor(weight_name, [k, n], INT8, weights)))
        extra.append(bytes_field(GRAPH_INITIALIZER,
                                  encode_tensor(scale_name, [n], FLOAT, scales)))
        replaced.update(i for i in node.inputs[1:] if i)
        used.add(node.inputs[0])
        parts.append(bytes_field(GRAPH_NODE, encode_node(
            "DynamicQuantizeMatMul", [node.inputs[0], weight_name, scale_name], node.outputs,
            name=node.name, domain="com.microsoft")))
    if not replaced:
        raise Unsupported("no MatMulNBits node")
    drop = replaced - used
    kept = [raw for index, raw in enumerate(parts)
            if initializer_names.get(index) not in drop]
    return b"".join(kept + extra)


def int8_model(model: bytes) -> bytes | None:
    """The model with every ``MatMulNBits`` as an int8 ``DynamicQuantizeMatMul``, or None
    when the model is not in the shape this rewrite understands."""
    try:
        return with_graph(model, _rewrite_graph)
    except (Unsupported, IndexError, ValueError, UnicodeDecodeError):
        return None
