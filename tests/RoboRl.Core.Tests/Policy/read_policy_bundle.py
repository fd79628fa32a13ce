#!/usr/bin/env python3
"""Independent reader of a RoboRl policy bundle, using only Python's standard library.

It applies the safetensors rules (huggingface/safetensors: u64 LE header length, JSON header that starts
with '{', string-only __metadata__, F32 tensors whose data_offsets tile the byte buffer exactly), recomputes
content.sha256 and robot.sha256 as documented in PolicyBundle.cs, and runs the actor on the golden
observations in double precision. Prints one JSON object; exits 1 with a message on any violation.
Used by PolicyBundleTests to check the C# writer from another language.
"""
import hashlib
import json
import math
import struct
import sys

DTYPE_SIZES = {"F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def main(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    if n > 100_000_000 or 8 + n > len(data):
        fail(f"bad header length {n}")
    header_bytes = data[8:8 + n]
    if header_bytes[:1] != b"{":
        fail("header does not start with '{'")
    header = json.loads(header_bytes.decode("utf-8"))
    buffer = data[8 + n:]
    metadata = header.pop("__metadata__", {})
    if not all(isinstance(v, str) for v in metadata.values()):
        fail("metadata values must be strings")

    tensors = {}
    ranges = []
    for name, info in header.items():
        if set(info) != {"dtype", "shape", "data_offsets"}:
            fail(f"{name}: keys {sorted(info)}")
        begin, end = info["data_offsets"]
        count = math.prod(info["shape"])
        if end - begin != count * DTYPE_SIZES[info["dtype"]]:
            fail(f"{name}: {end - begin} bytes for {info['dtype']} {info['shape']}")
        if info["dtype"] != "F32":
            fail(f"{name}: dtype {info['dtype']}")
        raw = buffer[begin:end]
        tensors[name] = (info["shape"], list(struct.unpack(f"<{count}f", raw)), raw, info["dtype"])
        ranges.append((begin, end))
    expected = 0
    for begin, end in sorted(ranges):
        if begin != expected:
            fail(f"hole or overlap at {begin}")
        expected = end
    if expected != len(buffer):
        fail("tensors do not cover the byte buffer")

    # content.sha256, as defined in PolicyBundle.ContentHash.
    h = hashlib.sha256()
    def put(text):
        b = text.encode("utf-8")
        h.update(struct.pack("<I", len(b)) + b)
    for key in sorted(k for k in metadata if k != "content.sha256"):
        put(key)
        put(metadata[key])
    for name in sorted(tensors):
        shape, _, raw, dtype = tensors[name]
        put(name)
        put(dtype)
        h.update(struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape))
        h.update(struct.pack("<Q", len(raw)) + raw)
    content_ok = h.hexdigest() == metadata["content.sha256"]

    # robot.sha256: whitespace outside strings removed.
    compact, in_string, escaped = [], False, False
    for c in metadata["robot.config"]:
        if in_string:
            compact.append(c)
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c not in " \t\n\r":
            compact.append(c)
            if c == '"':
                in_string = True
    robot_ok = hashlib.sha256("".join(compact).encode("utf-8")).hexdigest() == metadata["robot.sha256"]

    # The actor in double precision on the golden observations.
    activations = json.loads(metadata["actor.activations"])
    mean = tensors["observation.mean"][1]
    std = tensors["observation.std"][1]
    obs_shape, golden_obs, _, _ = tensors["golden.observations"]
    _, golden_act, _, _ = tensors["golden.actions"]
    k, obs = obs_shape
    worst = 0.0
    for row in range(k):
        x = [(golden_obs[row * obs + i] - mean[i]) / std[i] for i in range(obs)]
        for layer, activation in enumerate(activations):
            (outputs, inputs), w, _, _ = tensors[f"actor.{layer}.weight"]
            b = tensors[f"actor.{layer}.bias"][1]
            y = [b[o] + sum(w[o * inputs + i] * x[i] for i in range(inputs)) for o in range(outputs)]
            x = [max(v, 0.0) for v in y] if activation == "relu" else [math.tanh(v) for v in y] if activation == "tanh" else y
        acts = len(x)
        worst = max(worst, max(abs(x[j] - golden_act[row * acts + j]) for j in range(acts)))

    print(json.dumps({
        "content_sha256_ok": content_ok,
        "robot_sha256_ok": robot_ok,
        "golden_max_abs_error": worst,
        "tensors": sorted(tensors),
        "observation_names": len(json.loads(metadata["observation.names"])),
        "control_rate_hz": float(metadata["control_rate_hz"]),
    }))


if __name__ == "__main__":
    main(sys.argv[1])
