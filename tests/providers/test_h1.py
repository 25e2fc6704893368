"""The kept-alive HTTP/1.1 client of plain requests (``nova.providers._h1``) against small
asyncio servers that answer exactly as each test needs, faults included."""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import gc
import gzip
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from nova.providers._h1 import (
    H1BodyError,
    H1ConnectError,
    H1ConnectTimeout,
    H1Disconnected,
    H1Pool,
)

Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]


def _ok(body: bytes, *extra: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in extra)
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body


class _Server:
    """Counts connections and keeps every request's head; ``handler`` answers each request."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                await self.handler(head + body, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._conn, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v1/chat/completions"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


async def _write_and_close(w: asyncio.StreamWriter, data: bytes) -> None:
    w.write(data)
    await w.drain()
    w.close()


def _pool(url: str, **kw: object) -> H1Pool:
    opts: dict[str, object] = {"limit": 4, "connect_timeout_s": 5.0}
    opts.update(kw)
    return H1Pool(url, {"Authorization": "Bearer sk-test", "X-Team": "sophia"}, **opts)  # type: ignore[arg-type]


def test_keeps_the_connection_and_sends_a_well_formed_request() -> None:
    async def answer(req: bytes, w: asyncio.StreamWriter) -> None:
        w.write(_ok(b'{"n":1}', "X-Request-Id: abc"))

    async def main() -> None:
        srv = _Server(answer)
        async with srv as url:
            pool = _pool(url)
            r1 = await pool.post(b'{"a":1}')
            r2 = await pool.post(b'{"a":22}')
            await pool.close()
        assert (r1.status, r1.body, r2.body) == (200, b'{"n":1}', b'{"n":1}')
        assert r1.headers.get("x-request-id") == "abc" == r1.headers.get("X-REQUEST-ID")
        assert srv.connections == 1  # kept alive
        head = srv.requests[1].decode()
        port = url.split(":")[2].split("/")[0]
        assert head.startswith("POST /v1/chat/completions HTTP/1.1\r\n")
        assert f"Host: 127.0.0.1:{port}\r\n" in head and "Content-Length: 8\r\n" in head
        assert "Authorization: Bearer sk-test\r\n" in head and "X-Team: sophia\r\n" in head
        assert head.endswith('\r\n\r\n{"a":22}')

    asyncio.run(main())


def test_chunked_gzip_and_close_delimited_bodies() -> None:
    payload = b'{"choices":[]}' * 50
    answers = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (payload[:7], payload[7:]))
        + b"0\r\n\r\n",
        _ok(gzip.compress(payload), "Content-Encoding: gzip"),
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + payload,  # ends where the connection does
    ]

    async def answer(req: bytes, w: asyncio.StreamWriter) -> None:
        data = answers.pop(0)
        if answers:
            w.write(data)
        else:
            await _write_and_close(w, data)

    async def main() -> None:
        srv = _Server(answer)
        async with srv as url:
            pool = _pool(url)
            bodies = [(await pool.post(b"{}")).body for _ in range(3)]
            await pool.close()
        assert bodies == [payload] * 3

    asyncio.run(main())


def test_connection_close_is_not_reused_and_idle_connections_expire() -> None:
    async def answer(req: bytes, w: asyncio.StreamWriter) -> None:
        if b"close" in req:
            await _write_and_close(w, _ok(b"{}", "Connection: close"))
        else:
            w.write(_ok(b"{}"))

    async def main() -> None:
        srv = _Server(answer)
        async with srv as url:
            pool = _pool(url)
            await pool.post(b'"close"')
            await pool.post(b"{}")  # a new connection: the server said close
            assert srv.connections == 2
            expiring = _pool(url, idle_s=0.0)
            await expiring.post(b"{}")
            await expiring.post(b"{}")
            assert srv.connections == 4  # idle for longer than idle_s: not used again
            await pool.close()
            await expiring.close()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        (b"", H1Disconnected, "before a response"),
        (b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"cut', H1BodyError, "after 5 body"),
        (b"NOT HTTP AT ALL\r\n\r\n", H1BodyError, "malformed HTTP response"),
        (_ok(b"x" * 2048), H1BodyError, "larger than 1024 bytes"),
        (_ok(b"x", "Content-Encoding: br"), H1BodyError, "unsupported Content-Encoding"),
        (_ok(b"notgzip", "Content-Encoding: gzip"), H1BodyError, "not valid gzip"),
    ],
)
def test_faults_become_h1_errors(raw: bytes, error: type[Exception], message: str) -> None:
    async def answer(req: bytes, w: asyncio.StreamWriter) -> None:
        await _write_and_close(w, raw)

    async def main() -> None:
        srv = _Server(answer)
        async with srv as url:
            pool = _pool(url, max_body=1024)
            with pytest.raises(error, match=message):
                await pool.post(b"{}")
            assert not pool._open and not pool._idle  # nothing half-read is kept
            await pool.close()

    asyncio.run(main())


def test_refused_connection_and_bad_configuration() -> None:
    async def main() -> None:
        pool = _pool("http://127.0.0.1:9/v1/chat/completions")  # the discard port: refused
        with pytest.raises(H1ConnectError):
            await pool.post(b"{}")
        await pool.close()

    asyncio.run(main())
    with pytest.raises(ValueError, match="not a valid HTTP header"):
        H1Pool("http://h/x", {"X-Evil": "a\r\nHost: b"}, limit=1, connect_timeout_s=1)
    with pytest.raises(ValueError, match="not an http"):
        H1Pool("ftp://h/x", {}, limit=1, connect_timeout_s=1)


def test_a_cancelled_request_drops_its_connection_and_the_limit_queues() -> None:
    async def main() -> None:
        go = asyncio.Event()

        async def answer(req: bytes, w: asyncio.StreamWriter) -> None:
            if b"slow" in req:
                await go.wait()
            w.write(_ok(b"{}"))

        srv = _Server(answer)
        async with srv as url:
            pool = _pool(url, limit=1)
            slow = asyncio.ensure_future(pool.post(b'"slow"'))
            await asyncio.sleep(0.05)
            queued = asyncio.ensure_future(pool.post(b"{}"))  # waits: limit 1
            await asyncio.sleep(0.05)
            assert not queued.done()
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
            assert (await asyncio.wait_for(queued, 5)).status == 200
            assert srv.connections == 2  # the cancelled one was not reused
            go.set()
            await pool.close()

    asyncio.run(main())


def test_extra_bytes_after_a_response_retire_the_connection() -> None:
    async def answer(req: bytes, w: asyncio.StreamWriter) -> None:
        w.write(_ok(b"{}") + _ok(b'{"unasked":1}'))

    async def main() -> None:
        srv = _Server(answer)
        async with srv as url:
            pool = _pool(url)
            assert (await pool.post(b"{}")).body == b"{}"
            await asyncio.sleep(0.05)
            assert (await pool.post(b"{}")).body == b"{}"
            assert srv.connections == 2
            await pool.close()

    asyncio.run(main())


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_https_verifies_the_server(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)

    async def answer(req: bytes, w: asyncio.StreamWriter) -> None:
        w.write(_ok(b'{"tls":true}'))

    async def main() -> None:
        srv = _Server(answer)
        srv.server = await asyncio.start_server(srv._conn, "127.0.0.1", 0, ssl=server_ctx)
        port = srv.server.sockets[0].getsockname()[1]
        url = f"https://localhost:{port}/v1/chat/completions"
        trusting = ssl.create_default_context(cafile=str(cert))
        pool = _pool(url, ssl_context=trusting)
        assert (await pool.post(b"{}")).body == b'{"tls":true}'
        await pool.close()
        untrusting = _pool(url)  # the system's CAs do not know this certificate
        with pytest.raises(H1ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await untrusting.post(b"{}")
        await untrusting.close()
        srv.server.close()

    asyncio.run(main())


def test_a_stream_is_read_as_it_arrives_and_its_connection_kept_when_read_whole() -> None:
    async def main() -> None:
        more = asyncio.Event()

        async def answer(req: bytes, w: asyncio.StreamWriter) -> None:
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                    b"Content-Type: text/event-stream\r\n\r\n5\r\ndata1\r\n")  # fmt: skip
            await w.drain()
            await more.wait()
            w.write(b"5\r\ndata2\r\n0\r\n\r\n")

        srv = _Server(answer)
        async with srv as url:
            pool = _pool(url)
            async with await pool.stream(b"{}") as resp:
                assert (
                    resp.status == 200 and resp.headers.get("content-type") == "text/event-stream"
                )
                it = resp.iter_any()
                assert await it.__anext__() == b"data1"  # before the body's end was sent
                more.set()
                assert b"".join([d async for d in it]) == b"data2"
            more.clear()
            async with await pool.stream(b"{}") as resp:  # the same connection again
                first = await resp.iter_any().__anext__()
            assert first == b"data1" and srv.connections == 1
            # Closed before its end: that connection is not used again.
            more.set()
            assert (await (await pool.stream(b"{}")).read()) == b"data1data2"
            assert srv.connections == 2
            await pool.close()

    asyncio.run(main())


def test_a_cut_stream_raises_and_a_slow_reader_pauses_the_connection() -> None:
    big = b"x" * (1024 * 1024)

    async def answer(req: bytes, w: asyncio.StreamWriter) -> None:
        if b"cut" in req:
            await _write_and_close(w, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        else:
            w.write(_ok(big))

    async def main() -> None:
        srv = _Server(answer)
        async with srv as url:
            pool = _pool(url)
            async with await pool.stream(b'"cut"') as resp:
                with pytest.raises(H1BodyError, match="after 7 body bytes"):
                    async for _ in resp.iter_any():
                        pass
            async with await pool.stream(b"{}") as resp:
                await asyncio.sleep(0.2)  # the server sent everything; the client read nothing
                conn = resp._conn
                assert conn.paused and conn.size - conn.taken < len(big)
                assert await resp.read() == big
                assert not conn.paused
            await pool.close()

    asyncio.run(main())


def test_url_credentials_and_a_callers_host_header_are_sent() -> None:
    async def answer(req: bytes, w: asyncio.StreamWriter) -> None:
        w.write(_ok(b"{}"))

    async def main() -> None:
        srv = _Server(answer)
        async with srv as url:
            with_user = url.replace("http://", "http://sophia:p%40ss@")
            pool = H1Pool(with_user, {"Host": "llm.internal"}, limit=1, connect_timeout_s=5)
            await pool.post(b"{}")
            await pool.close()
        head = srv.requests[0].decode()
        assert "Authorization: Basic c29waGlhOnBAc3M=\r\n" in head  # sophia:p@ss
        assert "Host: llm.internal\r\n" in head and head.count("Host:") == 1

    asyncio.run(main())
    with pytest.raises(ValueError, match="not a valid HTTP header"):
        H1Pool("http://h/x", {"X-Evil\n": "v"}, limit=1, connect_timeout_s=1)


def test_a_reset_in_a_close_delimited_body_is_a_cut_not_an_answer() -> None:
    async def answer(req: bytes, w: asyncio.StreamWriter) -> None:
        w.write(b'HTTP/1.1 200 OK\r\n\r\n{"a":')
        await w.drain()
        sock = w.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        w.close()  # an RST, not a FIN

    async def main() -> None:
        srv = _Server(answer)
        async with srv as url:
            pool = _pool(url)
            with pytest.raises(H1BodyError, match="connection closed after"):
                await pool.post(b"{}")
            await pool.close()

    asyncio.run(main())


def test_a_dropped_stream_frees_its_slot_and_streams_only_limit_what_is_unread() -> None:
    async def main() -> None:
        step = asyncio.Event()

        async def answer(req: bytes, w: asyncio.StreamWriter) -> None:
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(3):  # 1,800 bytes in all, 600 at a time
                w.write(b"258\r\n" + b"y" * 600 + b"\r\n")
                await w.drain()
                await step.wait()
                step.clear()
            w.write(b"0\r\n\r\n")

        srv = _Server(answer)
        async with srv as url:
            pool = _pool(url, limit=1, max_body=1024)
            resp = await pool.stream(b"{}")
            got = b""
            async for data in resp.iter_any():
                got += data
                step.set()
            assert len(got) == 1800  # more than max_body in all, never more unread
            resp.close()
            dropped = await pool.stream(b"{}")
            await dropped.iter_any().__anext__()
            del dropped  # never closed: the connection is, and its slot comes free
            gc.collect()
            step.set()
            again = await asyncio.wait_for(pool.stream(b"{}"), 5)
            again.close()
            await pool.close()

    asyncio.run(main())


def test_the_kernels_connect_timeout_is_a_connect_error(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(*args: object, **kwargs: object) -> None:
        raise TimeoutError(errno.ETIMEDOUT, "Connection timed out")

    monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", refuse)

    async def main() -> None:
        pool = _pool("http://10.255.255.1:80/v1/chat/completions")
        with pytest.raises(H1ConnectError, match="timed out"):
            await pool.post(b"{}")
        await pool.close()

    asyncio.run(main())


def test_a_stream_ended_early_keeps_its_connection_once_the_rest_arrives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import nova.providers._h1 as h1

    monkeypatch.setattr(h1, "_DRAIN_S", 0.2)

    async def main() -> None:
        finish = asyncio.Event()

        async def answer(req: bytes, w: asyncio.StreamWriter) -> None:
            # As uvicorn sends an SSE answer: "[DONE]", then (a moment later) the last chunk.
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"e\r\ndata: [DONE]\n\n\r\n")  # fmt: skip
            await w.drain()
            if b"withhold" in req:
                return  # the body's end never comes
            await asyncio.sleep(0.005)
            w.write(b"0\r\n\r\n")
            finish.set()

        srv = _Server(answer)
        async with srv as url:
            pool = _pool(url, limit=1)
            for _ in range(3):
                async with await pool.stream(b"{}") as resp:
                    assert await resp.iter_any().__anext__() == b"data: [DONE]\n\n"
                    resp.ended()  # the caller has what it wanted
                await finish.wait()
                finish.clear()
            assert srv.connections == 1  # kept each time, once the last chunk had come
            # Without ended(), a stream closed before its end closes the connection.
            async with await pool.stream(b"{}") as resp:
                await resp.iter_any().__anext__()
            await finish.wait()
            assert srv.connections == 1
            async with await pool.stream(b"{}") as resp:
                await resp.iter_any().__anext__()
            assert srv.connections == 2
            await finish.wait()
            # The rest never comes: closed after _DRAIN_S, and its slot (limit 1) is free again.
            async with await pool.stream(b"withhold") as resp:
                await resp.iter_any().__anext__()
                resp.ended()
            t = asyncio.get_running_loop().time()
            r = await pool.post(b"{}")  # waits for the slot
            waited = asyncio.get_running_loop().time() - t
            assert r.status == 200 and srv.connections == 4 and 0.1 < waited < 2
            await pool.close()

    asyncio.run(main())


def test_a_streams_read_can_stop_at_a_limit() -> None:
    async def main() -> None:
        async def answer(req: bytes, w: asyncio.StreamWriter) -> None:
            w.write(b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nerror\r\n5\r\n-more\r\n5\r\n-more\r\n0\r\n\r\n")  # fmt: skip

        srv = _Server(answer)
        async with srv as url:
            pool = _pool(url)
            async with await pool.stream(b"{}") as resp:
                assert resp.status == 500 and await resp.read(7) == b"error-m"
            async with await pool.stream(b"{}") as resp:
                assert await resp.text() == "error-more-more"
            await pool.close()

    asyncio.run(main())


def test_a_slow_connect_times_out_and_closing_fails_the_waiting_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def main() -> None:
        hang = asyncio.Event()

        async def answer(req: bytes, w: asyncio.StreamWriter) -> None:
            await hang.wait()

        srv = _Server(answer)
        async with srv as url:
            pool = _pool(url, limit=1)
            first = asyncio.ensure_future(pool.post(b"{}"))  # holds the one slot
            await asyncio.sleep(0.05)
            queued = asyncio.ensure_future(pool.post(b"{}"))
            await asyncio.sleep(0.05)
            await pool.close()
            with pytest.raises(H1Disconnected, match="client was closed"):
                await queued
            with pytest.raises(H1Disconnected):
                await first
            hang.set()

        real = asyncio.BaseEventLoop.create_connection

        async def slow(self: asyncio.BaseEventLoop, *args: object, **kwargs: object) -> object:
            await asyncio.sleep(1)
            return await real(self, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(asyncio.BaseEventLoop, "create_connection", slow)
        pool = _pool(url, connect_timeout_s=0.05)
        with pytest.raises(H1ConnectTimeout, match=r"within 0\.05 s"):
            await pool.post(b"{}")
        await pool.close()

    asyncio.run(main())


def test_an_interim_100_continue_is_skipped() -> None:
    async def main() -> None:
        async def answer(req: bytes, w: asyncio.StreamWriter) -> None:
            w.write(b"HTTP/1.1 100 Continue\r\n\r\n" + _ok(b'{"ok": 1}', "X-Real: yes"))

        srv = _Server(answer)
        async with srv as url:
            pool = _pool(url)
            r = await pool.post(b"{}")
            assert (r.status, r.body, r.headers.get("x-real")) == (200, b'{"ok": 1}', "yes")
            async with await pool.stream(b"{}") as resp:
                assert resp.status == 200 and await resp.read() == b'{"ok": 1}'
            assert srv.connections == 1
            await pool.close()

    asyncio.run(main())
