"""The patches kubectl sends, applied to plain objects (pure functions).

- JSON merge patch (RFC 7386, ``application/merge-patch+json``): what ``kubectl apply``
  sends for Istio kinds and ``kubectl patch --type merge``.
- Strategic merge patch (``application/strategic-merge-patch+json``): what ``kubectl
  apply``, ``label``, ``annotate`` and ``rollout restart`` send for built-in kinds. Lists
  with a merge key (containers by ``name``, ports by ``containerPort``/``port``, env by
  ``name``...) merge item by item; the directives kubectl writes (``$setElementOrder/``,
  ``$patch: delete|replace``, ``$retainKeys``, ``$deleteFromPrimitiveList/``) are honoured.
- JSON patch (RFC 6902, ``application/json-patch+json``): ``kubectl patch --type json``.
- Server-side apply (``application/apply-patch+yaml``): the applied configuration is merged
  onto the live object (one field manager: the user), like a strategic patch for built-in
  kinds and a merge patch (lists replaced whole, as atomic lists) for the Istio kinds.
"""

from __future__ import annotations

import copy
from typing import Any

from istiolab.local.kubeapi.status import bad_request

MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
}
PRIMITIVE_SETS = {"finalizers"}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _merge_key(field: str, items: list) -> str | None:
    """The list's merge key, when every item carries it (else the list is replaced)."""
    key = MERGE_KEYS.get(field)
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), {})
        key = "containerPort" if "containerPort" in sample else "port"
    if key is None or not all(isinstance(i, dict) and key in i for i in items):
        return None
    return key


def _merge_list(field: str, live: list, patch: list, order: list | None) -> list:
    key = _merge_key(field, [*patch, *live])
    if key is None or not all(isinstance(i, dict) for i in patch):
        if field in PRIMITIVE_SETS:
            return [*live, *(p for p in patch if p not in live)]
        return [strategic_merge({}, p) if isinstance(p, dict) else p for p in patch]
    items = {i.get(key): copy.deepcopy(i) for i in live if isinstance(i, dict)}
    seq = [i.get(key) for i in live if isinstance(i, dict)]
    for p in patch:
        k = p.get(key)
        directive = p.get("$patch")
        if directive == "delete":
            items.pop(k, None)
            continue
        body = {a: b for a, b in p.items() if a != "$patch"}
        if directive == "replace" or k not in items:
            items[k] = strategic_merge({}, body)
            if k not in seq:
                seq.append(k)
        else:
            items[k] = strategic_merge(items[k], body)
    if order:
        ordered = [o.get(key) for o in order if isinstance(o, dict)]
        seq = [k for k in ordered if k in items] + [k for k in seq if k not in ordered]
    return [items[k] for k in seq if k in items]


def strategic_merge(live: Any, patch: Any) -> Any:
    """Kubernetes' strategic merge patch for the fields kubectl touches."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return strategic_merge({}, {k: v for k, v in patch.items() if k != "$patch"})
    if patch.get("$patch") == "delete":
        return None
    out = copy.deepcopy(live) if isinstance(live, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            out[field] = [v for v in out.get(field) or [] if v not in value]
            continue
        if value is None:
            out.pop(key, None)
        elif isinstance(value, list):
            order = patch.get(f"$setElementOrder/{key}")
            current = out.get(key) if isinstance(out.get(key), list) else []
            out[key] = _merge_list(key, current, value, order)
        elif isinstance(value, dict):
            merged = strategic_merge(out.get(key), value)
            if merged is None:
                out.pop(key, None)
            else:
                out[key] = merged
        else:
            out[key] = value
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"json patch: path {path!r} must start with /")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for p in parts:
        doc = doc[int(p)] if isinstance(doc, list) else doc[p]
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902: add, remove, replace, move, copy, test."""
    if not isinstance(ops, list):
        raise bad_request("json patch: the body must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        try:
            name, parts = op["op"], _pointer(op["path"])
            if name in ("move", "copy"):
                src = _pointer(op["from"])
                value = copy.deepcopy(_walk(doc, src))
                if name == "move":
                    doc = _remove(doc, src)
                doc = _add(doc, parts, value)
            elif name == "add":
                doc = _add(doc, parts, copy.deepcopy(op["value"]))
            elif name == "remove":
                doc = _remove(doc, parts)
            elif name == "replace":
                doc = _add(_remove(doc, parts), parts, copy.deepcopy(op["value"]))
            elif name == "test":
                if _walk(doc, parts) != op["value"]:
                    raise bad_request(f"json patch: test failed at {op['path']}")
            else:
                raise bad_request(f"json patch: unknown op {name!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise bad_request(f"json patch: cannot apply {op!r}: {exc}") from exc
    return doc


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        parent.insert(len(parent) if last == "-" else int(last), value)
    else:
        parent[last] = value
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        parent.pop(int(last))
    else:
        del parent[last]
    return doc
