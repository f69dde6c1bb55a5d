"""The Kubernetes protobuf bodies kubectl's typed commands send (``kubectl create namespace``,
``create configmap``, ``create secret generic``, ``create serviceaccount``).

A body is ``k8s\\x00`` + ``runtime.Unknown`` {typeMeta {apiVersion, kind}, raw}; ``raw`` is
the object's message. Only the fields those commands fill are decoded (field numbers from
``k8s.io/api`` ``generated.proto``): ObjectMeta name, generateName, namespace, labels,
annotations; ConfigMap data/binaryData; Secret data, type, stringData, immutable. Any other
kind is refused with a line saying to use ``kubectl apply -f``.
"""

from __future__ import annotations

import base64
from typing import Any

from istiolab.local.kubeapi.status import ApiError

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def fields(data: bytes) -> list[tuple[int, Any]]:
    """(field number, value) pairs: ints for varints, bytes for length-delimited fields."""
    out: list[tuple[int, Any]] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            length, i = _varint(data, i)
            value, i = data[i : i + length], i + length
        elif wire == 1:
            value, i = data[i : i + 8], i + 8
        elif wire == 5:
            value, i = data[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, value))
    return out


def _map(entries: list[bytes], binary: bool = False) -> dict[str, str]:
    out = {}
    for entry in entries:
        kv = dict(fields(entry))
        value = kv.get(2, b"")
        out[kv.get(1, b"").decode()] = (
            base64.b64encode(value).decode() if binary else value.decode()
        )
    return out


def _metadata(data: bytes) -> dict[str, Any]:
    md: dict[str, Any] = {}
    f = fields(data)
    for number, key in ((1, "name"), (2, "generateName"), (3, "namespace")):
        value = next((v for n, v in f if n == number), None)
        if value:
            md[key] = value.decode()
    for number, key in ((11, "labels"), (12, "annotations")):
        entries = [v for n, v in f if n == number]
        if entries:
            md[key] = _map(entries)
    return md


def decode(body: bytes) -> dict[str, Any]:
    """A JSON-shaped object from a protobuf body; ApiError (415) for kinds not decoded."""
    if not body.startswith(MAGIC):
        raise ApiError(400, "BadRequest", "the protobuf body lacks the k8s envelope")
    unknown = dict(fields(body[len(MAGIC) :]))
    type_meta = dict(fields(unknown.get(1, b"")))
    api_version = type_meta.get(1, b"").decode()
    kind = type_meta.get(2, b"").decode()
    parts = fields(unknown.get(2, b""))
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    obj["metadata"] = _metadata(next((v for n, v in parts if n == 1), b""))
    if kind in ("Namespace", "ServiceAccount"):
        return obj
    if kind == "ConfigMap":
        data = [v for n, v in parts if n == 2]
        binary = [v for n, v in parts if n == 3]
        if data:
            obj["data"] = _map(data)
        if binary:
            obj["binaryData"] = _map(binary, binary=True)
        return obj
    if kind == "Secret":
        data = [v for n, v in parts if n == 2]
        if data:
            obj["data"] = _map(data, binary=True)
        secret_type = next((v for n, v in parts if n == 3), None)
        if secret_type:
            obj["type"] = secret_type.decode()
        string_data = [v for n, v in parts if n == 4]
        if string_data:
            obj["stringData"] = _map(string_data)
        return obj
    raise ApiError(
        415,
        "UnsupportedMediaType",
        f"the local mesh reads {kind} objects as JSON or YAML only: write it to a file and "
        "`kubectl apply -f` it",
    )
