"""SPDY/3.1 framing, the part Kubernetes' streaming protocols use (pure functions).

Frames: control frames (SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY,
WINDOW_UPDATE) and DATA frames with the FIN flag. Header blocks are compressed with one
zlib stream per direction and the dictionary of the SPDY/3 specification (section 2.6.10.1),
rebuilt here from its words: length-prefixed header names and values, then a tail of status
lines, dates and media types (1423 bytes).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = (
    1, 2, 3, 4, 6, 7, 8, 9,
)  # fmt: skip
FLAG_FIN = 0x01
VERSION = 3

_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base "
    "content-encoding content-language content-length content-location content-md5 "
    "content-range content-type date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
    "server te trailer transfer-encoding upgrade user-agent vary via warning "
    "www-authenticate method get status |200 OK| version HTTP/1.1 url public set-cookie "
    "keep-alive origin"
)
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504"
    "505203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, "
    "Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)


def _dictionary() -> bytes:
    words = [w.strip("|") for w in _WORDS.replace("|200 OK|", "|200\0OK|").split()]
    words = [w.replace("\0", " ") for w in words]
    return b"".join(struct.pack(">I", len(w)) + w.encode() for w in words) + _TAIL.encode()


DICTIONARY = _dictionary()


@dataclass
class Frame:
    control: bool
    type: int = 0  # control frame type
    flags: int = 0
    stream_id: int = 0
    payload: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Codec:
    """One side of a connection: parses incoming bytes, builds outgoing frames."""

    def __init__(self) -> None:
        self._buffer = b""
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(9, zdict=DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= 8:
            length = int.from_bytes(self._buffer[5:8], "big")
            if len(self._buffer) < 8 + length:
                break
            head, payload = self._buffer[:8], self._buffer[8 : 8 + length]
            self._buffer = self._buffer[8 + length :]
            flags = head[4]
            if head[0] & 0x80:
                kind = int.from_bytes(head[2:4], "big")
                frame = Frame(True, kind, flags, payload=payload)
                if kind in (SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE):
                    frame.stream_id = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF
                if kind == SYN_STREAM:
                    frame.headers = self._headers(payload[10:])
                elif kind in (SYN_REPLY, HEADERS):
                    frame.headers = self._headers(payload[4:])
            else:
                stream_id = int.from_bytes(head[:4], "big") & 0x7FFFFFFF
                frame = Frame(False, 0, flags, stream_id, payload)
            frames.append(frame)
        return frames

    def _headers(self, block: bytes) -> dict[str, str]:
        raw = self._inflate.decompress(block)
        count = int.from_bytes(raw[:4], "big")
        out, i = {}, 4
        for _ in range(count):
            n = int.from_bytes(raw[i : i + 4], "big")
            name = raw[i + 4 : i + 4 + n].decode()
            i += 4 + n
            n = int.from_bytes(raw[i : i + 4], "big")
            out[name] = raw[i + 4 : i + 4 + n].decode()
            i += 4 + n
        return out

    def _block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for k, v in headers.items():
            raw += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def control(kind: int, payload: bytes, flags: int = 0) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload

    def syn_reply(self, stream_id: int, headers: dict[str, str] | None = None) -> bytes:
        return self.control(SYN_REPLY, struct.pack(">I", stream_id) + self._block(headers or {}))

    @staticmethod
    def data(stream_id: int, payload: bytes, fin: bool = False) -> bytes:
        flags = FLAG_FIN if fin else 0
        return struct.pack(">II", stream_id, (flags << 24) | len(payload)) + payload

    @classmethod
    def ping(cls, payload: bytes) -> bytes:
        return cls.control(PING, payload)

    @classmethod
    def rst(cls, stream_id: int, status: int = 5) -> bytes:
        return cls.control(RST_STREAM, struct.pack(">II", stream_id, status))
