"""The two ways a bot reaches the emulator: HTTP on loopback and an in-process PTB request.

Both only need the small :class:`BotApi` surface (``handle`` and ``file_bytes``), so this module
knows nothing of the world or the methods behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from .records import JSONDict, TransportFault, Upload, dump

_NOT_FOUND: JSONDict = {"ok": False, "error_code": 404, "description": "Not Found"}
_METHOD_URL = re.compile(r"/bot([^/]+)/([A-Za-z0-9_]+)/?$")
_FILE_URL = re.compile(r"/file/bot([^/]+)/(.+)$")


class BotApi(Protocol):
    """What a transport calls: the token-checked dispatcher and the file store."""

    #: Seconds the HTTP server stalls on an injected ``timeout`` before dropping the socket.
    http_timeout_delay: float

    async def handle(
        self, token: str, method: str, params: JSONDict, files: dict[str, Upload] | None = None
    ) -> tuple[int, JSONDict]:
        """Run one Bot API method behind a token check; return (HTTP status, JSON body)."""
        ...

    def file_bytes(self, token: str, path: str) -> bytes | None:
        """Content served at ``/file/bot<token>/<path>`` (None: 404)."""
        ...


# --------------------------------------------------------------------------- multipart


def _disposition_param(header: str, key: str) -> str | None:
    m = re.search(rf"(?:^|;)\s*{key}\*=([^;]+)", header, re.IGNORECASE)
    if m:
        value = m.group(1).strip().strip('"')
        if "''" in value:
            value = value.split("''", 1)[1]
        return unquote(value)
    m = re.search(rf'(?:^|;)\s*{key}="((?:[^"\\]|\\.)*)"', header, re.IGNORECASE)
    if m:
        value = m.group(1).replace('\\"', '"')
        return value.replace("%22", '"').replace("%0A", "\n").replace("%0D", "\r")
    m = re.search(rf"(?:^|;)\s*{key}=([^;\s]+)", header, re.IGNORECASE)
    return m.group(1) if m else None


def parse_multipart(body: bytes, content_type: str) -> tuple[JSONDict, dict[str, Upload]]:
    """Split a ``multipart/form-data`` body into plain fields and file uploads."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        return {}, {}
    delim = b"--" + m.group(1).encode()
    fields: JSONDict = {}
    uploads: dict[str, Upload] = {}
    for part in body.split(delim)[1:]:
        if part.startswith(b"--"):
            break
        if part.startswith(b"\r\n"):
            part = part[2:]
        head, _, data = part.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        disposition = headers.get("content-disposition", "")
        name = _disposition_param(disposition, "name")
        if name is None:
            continue
        filename = _disposition_param(disposition, "filename")
        if filename is None:
            fields[name] = data.decode("utf-8", "replace")
        else:
            uploads[name] = Upload(filename, data, headers.get("content-type"))
    return fields, uploads


# --------------------------------------------------------------------------- HTTP


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


async def _read_http_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes] | None:
    """Read one HTTP/1.1 request (Content-Length or chunked body); None at EOF."""
    line = await reader.readline()
    while line in (b"\r\n", b"\n"):
        line = await reader.readline()
    if not line:
        return None
    verb, target, *_ = line.decode("latin-1").split()
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        key, _, value = raw.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                break
            chunks.append(await reader.readexactly(size))
            await reader.readline()
        body = b"".join(chunks)
    elif headers.get("content-length"):
        body = await reader.readexactly(int(headers["content-length"]))
    return verb.upper(), target, headers, body


class HttpServer:
    """A minimal HTTP/1.1 server (keep-alive, chunked bodies) in front of a :class:`BotApi`."""

    def __init__(self, api: BotApi) -> None:
        self._api = api
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0: any free port); return the base url."""
        self._server = await asyncio.start_server(self._connection, host, port)
        sock_host, sock_port = self._server.sockets[0].getsockname()[:2]
        return f"http://{sock_host}:{sock_port}"

    async def close(self) -> None:
        """Stop listening and drop open connections."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(BaseException):
                await task
        await self._server.wait_closed()
        self._server = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            while True:
                request = await _read_http_request(reader)
                if request is None:
                    break
                verb, target, headers, body = request
                try:
                    status, ctype, payload = await self._http_dispatch(verb, target, headers, body)
                except TransportFault as fault:
                    if fault.kind == "timeout":
                        await asyncio.sleep(self._api.http_timeout_delay)
                    break
                phrase = _phrase(status)
                head = (
                    f"HTTP/1.1 {status} {phrase}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(payload)}\r\nConnection: keep-alive\r\n\r\n"
                )
                writer.write(head.encode("latin-1") + payload)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # the server is closing; ending quietly keeps asyncio from logging the cancellation
            pass
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _http_dispatch(
        self, verb: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        parts = urlsplit(target)
        path = unquote(parts.path)
        m = _FILE_URL.fullmatch(path)
        if m:
            data = self._api.file_bytes(m.group(1), m.group(2))
            if data is None:
                return 404, "application/json", dump(_NOT_FOUND)
            return 200, "application/octet-stream", data
        m = _METHOD_URL.fullmatch(path)
        if not m:
            return 404, "application/json", dump(_NOT_FOUND)
        params: JSONDict = dict(parse_qsl(parts.query, keep_blank_values=True))
        files: dict[str, Upload] = {}
        ctype = headers.get("content-type", "")
        if body:
            if ctype.startswith("multipart/form-data"):
                fields, files = parse_multipart(body, ctype)
                params.update(fields)
            elif ctype.startswith("application/json"):
                try:
                    params.update(json.loads(body))
                except ValueError:
                    return (
                        400,
                        "application/json",
                        dump(
                            {
                                "ok": False,
                                "error_code": 400,
                                "description": "Bad Request: can't parse JSON",
                            }
                        ),
                    )
            else:
                params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        status, payload = await self._api.handle(m.group(1), m.group(2), params, files)
        return status, "application/json", dump(payload)


class EmulatorRequest(BaseRequest):
    """In-process PTB transport: ``do_request`` calls the emulator's ``handle`` directly."""

    def __init__(self, emulator: BotApi, read_timeout: float | None = 5.0) -> None:
        self._emulator = emulator
        self._read_timeout = read_timeout

    @property
    def read_timeout(self) -> float | None:
        """Default read timeout (PTB adds the long-polling timeout to it)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Route ``url`` to the emulator; raise ``TimedOut``/``NetworkError`` for faults."""
        path = unquote(urlsplit(url).path)
        m = _FILE_URL.search(path)
        if m:
            data = self._emulator.file_bytes(m.group(1), m.group(2))
            if data is None:
                return 404, dump(_NOT_FOUND)
            return 200, data
        m = _METHOD_URL.search(path)
        if not m:
            return 404, dump(_NOT_FOUND)
        params: JSONDict = dict(request_data.json_parameters) if request_data else {}
        files: dict[str, Upload] = {}
        if request_data is not None and request_data.contains_files:
            for name, (file_name, content, mime) in request_data.multipart_data.items():
                data = content if isinstance(content, bytes) else content.read()
                files[name] = Upload(file_name, data, mime)
        timeout = self._read_timeout if read_timeout is BaseRequest.DEFAULT_NONE else read_timeout
        try:
            status, body = await asyncio.wait_for(
                self._emulator.handle(m.group(1), m.group(2), params, files),
                timeout if timeout else None,
            )
        except TransportFault as fault:
            if fault.kind == "network":
                raise NetworkError("Emulated network error") from None
            raise TimedOut() from None
        except TimeoutError:
            raise TimedOut() from None
        return status, dump(body)
