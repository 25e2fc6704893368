"""``llamacpp/<name>``: a local GGUF file, served by llama-cpp-python's OpenAI-compatible
server on 127.0.0.1 and spoken to through the OpenAI adapter.

The model file comes from ``provider.model_path`` (relative to the workspace), else from
``provider.hf_repo`` (``org/repo:file.gguf``, downloaded once into the Hugging Face cache).
``model_path: nova:tiny`` (or ``options.tiny: true``) is nova's own tiny random model, written
into ``.nova/models/``: it needs no download and serves as the offline test and demo model.

``provider.options`` (all optional):

    n_ctx            context size (default: the model's trained context, at most 4096)
    n_threads        CPU threads of the server (default 1)
    n_gpu_layers     layers to offload to a GPU (default: the server's)
    start_timeout_s  seconds to wait for the server to answer (default 60)
    server_args      extra command-line arguments for ``python -m llama_cpp.server``
    tiny             true: serve nova's tiny model whatever model_path says
    tiny_seed        weights seed of the tiny model (different seeds, different models)
    offline_fallback "tiny": when the hf_repo download fails (offline), serve the tiny model
                     instead and set ``fallback_used`` (the embedded demo says so loudly)

What llama-cpp-python's server (0.3.x) sends: one chunk per generated token, plus a first chunk
with only the role and a last one with only the finish reason; streams carry no usage
(``stream_options.include_usage`` is ignored), so a streamed answer's token count is the
content-chunk count, tagged ``estimate``; non-streamed answers carry the server's usage.
The ``model`` field echoes the request's model, which nova sets to the alias it serves.
The server runs one request at a time; nova starts it with ``--interrupt_requests false`` so
that concurrent requests queue instead of cutting each other's streams short.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any

import aiohttp

from nova.errors import ConfigError, MissingDependencyError, Problem
from nova.providers._base import register_provider
from nova.providers._errors import ProviderError, UnreachableError
from nova.providers._offline import offline_fallback_reason
from nova.providers._openai import OpenAIProvider
from nova.providers._tinymodel import tiny_model_path
from nova.providers._types import ModelInfo

__all__ = ["TINY_MODEL", "LlamaCppProvider"]

TINY_MODEL = "nova:tiny"
"""``provider.model_path`` value that selects nova's generated tiny model."""

_FEATURE = "local GGUF models (llamacpp provider)"
_SERVER_MODULES = ("uvicorn", "fastapi", "sse_starlette", "starlette_context")
_OPTIONS: dict[str, tuple[type, ...]] = {
    "tiny": (bool,),
    "tiny_seed": (int,),
    "offline_fallback": (str,),
    "n_ctx": (int,),
    "n_threads": (int,),
    "n_gpu_layers": (int,),
    "start_timeout_s": (int, float),
    "server_args": (list,),
}
# Cap of the default context: a 0.5B model's full 32k context would need ~0.4 GB of KV cache
# per server, and nova's datasets fit in 4k.
_DEFAULT_N_CTX = 4096
_TERM_WAIT_S = 10.0
_PORT_TRIES = 3  # a free port can be taken between choosing it and the server binding it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(log is empty)"


def _trained_context(model: Path) -> int | None:
    """``<arch>.context_length`` from the GGUF header, None if it cannot be read."""
    try:
        import gguf

        reader = gguf.GGUFReader(model)
        arch = reader.get_field("general.architecture")
        field = reader.get_field(f"{arch.contents()}.context_length") if arch else None
        value = field.contents() if field else None
    except Exception:  # not a GGUF, or gguf not installed: the server will say more
        return None
    return value if isinstance(value, int) and value > 0 else None


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGKILL it when nova dies (even by kill -9), so
    a killed run never leaves a llama.cpp server behind. SIGKILL, not SIGTERM: uvicorn's
    graceful shutdown was seen to outlive its dead client by more than 20 s, and the server
    holds nothing worth saving."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _kill_orphan(proc: subprocess.Popen[bytes]) -> None:
    """Last resort when a provider is dropped or the interpreter exits without ``close()``."""
    if proc.poll() is None:
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(_TERM_WAIT_S)


@register_provider("llamacpp")
class LlamaCppProvider(OpenAIProvider):
    """Starts ``python -m llama_cpp.server`` for the candidate's GGUF file on ``start()`` and
    stops it (by PID: SIGTERM, then SIGKILL) on ``close()``."""

    _proc: subprocess.Popen[bytes] | None = None
    _finalizer: weakref.finalize[Any, Any] | None = None
    _base_url: str | None = None
    _log_path: Path | None = None
    _model_file: Path | None = None
    _n_ctx: int | None = None
    _start_lock: asyncio.Lock | None = None
    fallback_used: str | None = None
    """Set when ``offline_fallback: tiny`` replaced an unavailable download."""

    # --- what tests and callers may look at -----------------------------------------------
    @property
    def base_url(self) -> str | None:
        """``http://127.0.0.1:PORT/v1`` of the running server, None when not running."""
        return self._base_url

    @property
    def pid(self) -> int | None:
        """Process id of the running server, None when not running."""
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path | None:
        """The server's log (stdout and stderr) of the latest start."""
        return self._log_path

    @property
    def model_file(self) -> Path | None:
        """The GGUF file being served."""
        return self._model_file

    def url(self) -> str:
        if self._base_url is None:
            raise UnreachableError(
                self.candidate.id, "the local llama.cpp server is not running: call start() first"
            )
        return f"{self._base_url}/chat/completions"

    # --- options and paths ----------------------------------------------------------------
    def _option(self, name: str, default: Any = None) -> Any:
        return self.candidate.provider.options.get(name, default)

    def _check_options(self) -> None:
        cid = self.candidate.id
        problems: list[Problem] = []
        for key, value in self.candidate.provider.options.items():
            field = f"candidate {cid}.provider.options.{key}"
            if key not in _OPTIONS:
                problems.append(
                    Problem(
                        None,
                        None,
                        field,
                        "unknown option for llamacpp; known: " + ", ".join(sorted(_OPTIONS)),
                    )
                )
            elif not isinstance(value, _OPTIONS[key]) or (
                isinstance(value, bool) and bool not in _OPTIONS[key]
            ):
                want = " or ".join(t.__name__ for t in _OPTIONS[key])
                problems.append(
                    Problem(None, None, field, f"must be {want}, got {type(value).__name__}")
                )
        args = self._option("server_args", [])
        if isinstance(args, list) and not all(isinstance(a, str) for a in args):
            problems.append(
                Problem(
                    None,
                    None,
                    f"candidate {cid}.provider.options.server_args",
                    "must be a list of strings",
                )
            )
        if problems:
            raise ConfigError(problems, f"candidate {cid}: invalid llamacpp options")

    def _nova_dir(self) -> Path:
        if self.workspace_root is not None:
            return self.workspace_root / ".nova"
        return Path(tempfile.gettempdir()) / "nova"

    def _is_tiny(self) -> bool:
        return self._option("tiny") is True or self.candidate.provider.model_path == TINY_MODEL

    def resolve_model_file(self) -> Path:
        """The GGUF file to serve: the tiny model, ``model_path`` or the ``hf_repo`` download.

        Blocking (writes or downloads the file on first use).
        """
        s = self.candidate.provider
        cid = self.candidate.id
        if self._is_tiny():
            return tiny_model_path(self._nova_dir() / "models", int(self._option("tiny_seed", 0)))
        if s.model_path:
            path = Path(s.model_path).expanduser()
            if not path.is_absolute():
                path = (self.workspace_root or Path.cwd()) / path
            if not path.is_file():
                base = (
                    f" (relative paths start at the workspace {self.workspace_root})"
                    if self.workspace_root is not None
                    else ""
                )
                raise ConfigError(
                    [
                        Problem(
                            None,
                            None,
                            f"candidate {cid}.provider.model_path",
                            f"GGUF file {path} does not exist{base}: download the model "
                            "file there, fix the path, or use provider.hf_repo",
                        )
                    ],
                    f"candidate {cid}: model file not found",
                )
            return path
        if s.hf_repo:
            if self._option("offline_fallback") == "tiny":
                reason = offline_fallback_reason(self.candidate)
                if reason is not None:  # offline: do not wait through the hub's retries
                    self.fallback_used = f"{s.hf_repo} not available ({reason})"
                    return tiny_model_path(
                        self._nova_dir() / "models", int(self._option("tiny_seed", 0))
                    )
            try:
                return self._download(s.hf_repo)
            except ProviderError as exc:
                if self._option("offline_fallback") != "tiny":
                    raise
                self.fallback_used = f"{s.hf_repo} not available ({exc}); serving nova's tiny model"
                seed = int(self._option("tiny_seed", 0))
                return tiny_model_path(self._nova_dir() / "models", seed)
        raise ConfigError(
            [
                Problem(
                    None,
                    None,
                    f"candidate {cid}.provider",
                    "llamacpp needs provider.model_path or provider.hf_repo",
                )
            ]
        )

    def _download(self, spec: str) -> Path:
        cid = self.candidate.id
        repo, _, filename = spec.partition(":")
        if repo.count("/") != 1 or not filename:
            raise ConfigError(
                [
                    Problem(
                        None,
                        None,
                        f"candidate {cid}.provider.hf_repo",
                        f"{spec!r} is not 'org/repo:file.gguf'",
                    )
                ]
            )
        manual = (
            f"download {filename} from https://huggingface.co/{repo} on a machine with "
            "internet and set provider.model_path to the file"
        )
        try:
            hub = importlib.import_module("huggingface_hub")  # optional, untyped here
        except ModuleNotFoundError:
            raise ProviderError(
                cid,
                f"provider.hf_repo {spec} needs the Python module "
                "'huggingface_hub' to download the model, which is not "
                f"installed: run pip install huggingface_hub, or {manual}",
            ) from None
        try:
            return Path(hub.hf_hub_download(repo_id=repo, filename=filename))
        except Exception as exc:
            kinds = {c.__name__ for c in type(exc).__mro__}
            detail = (
                f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"
                if str(exc).strip()
                else type(exc).__name__
            )
            if kinds & {"LocalEntryNotFoundError", "OfflineModeIsEnabled"}:
                why = (
                    "not in the local Hugging Face cache, and no internet or the hub is "
                    "unreachable (or HF_HUB_OFFLINE=1 is set)"
                )
            elif kinds & {
                "RepositoryNotFoundError",
                "EntryNotFoundError",
                "RevisionNotFoundError",
                "GatedRepoError",
            }:
                raise ProviderError(
                    cid,
                    f"provider.hf_repo {spec}: the repository or file "
                    f"does not exist or needs access rights ({detail}): check "
                    "the name, or set HF_TOKEN for a gated model",
                ) from None
            else:
                why = "no internet or the Hugging Face hub is unreachable"
            raise ProviderError(
                cid, f"cannot download provider.hf_repo {spec}: {why} ({detail}); {manual}"
            ) from None

    @staticmethod
    def _check_installed() -> None:
        for module in ("llama_cpp", *_SERVER_MODULES):
            if importlib.util.find_spec(module) is None:
                raise MissingDependencyError(_FEATURE, "local", module)

    # --- lifecycle ------------------------------------------------------------------------
    def _running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and bool(self._base_url)

    async def start(self) -> None:
        """Start the server unless it is running (safe to call again, and concurrently)."""
        if self._running():
            await super().start()
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._running():
                return
            await self._stop_process()  # a server that died since the last start
            self._check_options()
            self._check_installed()
            model = await asyncio.to_thread(self.resolve_model_file)
            await super().start()
            try:
                await self._launch(model)
            except BaseException:
                await self.close()
                raise

    async def _launch(self, model: Path) -> None:
        cid = self.candidate.id
        n_ctx = self._option("n_ctx")
        if n_ctx is None:
            trained = await asyncio.to_thread(_trained_context, model)
            n_ctx = min(trained or _DEFAULT_N_CTX, _DEFAULT_N_CTX)
        timeout = float(self._option("start_timeout_s", 60.0))
        logs = self._nova_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self._log_path = logs / f"llamacpp-{cid}.log"
        self._model_file = model
        self._n_ctx = n_ctx
        for attempt in range(1, _PORT_TRIES + 1):
            port = _free_port()
            cmd = [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                str(n_ctx),
                "--n_threads",
                str(self._option("n_threads", 1)),
                "--model_alias",
                self.model,
                # Its default (true) ends a running stream with [DONE] as soon as another
                # request waits, silently truncating answers under concurrency: queue them.
                "--interrupt_requests",
                "false",
            ]
            if self._option("n_gpu_layers") is not None:
                cmd += ["--n_gpu_layers", str(self._option("n_gpu_layers"))]
            cmd += list(self._option("server_args", []))
            with self._log_path.open("wb") as log:
                self._proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
            self._finalizer = weakref.finalize(self, _kill_orphan, self._proc)
            self._base_url = f"http://127.0.0.1:{port}/v1"
            t0 = time.monotonic()
            code = await self._wait_ready(timeout)
            if code is None:
                return
            tail = _tail(self._log_path)
            await self._stop_process()
            if "address already in use" in tail.lower() and attempt < _PORT_TRIES:
                continue
            raise ProviderError(
                cid,
                f"the llama.cpp server for {model} exited with code "
                f"{code} after {time.monotonic() - t0:.1f} s while starting; "
                f"last lines of {self._log_path}:\n{tail}",
            )

    async def _wait_ready(self, timeout: float) -> int | None:
        """None once ``GET /v1/models`` answers 200; the exit code if the server died."""
        assert self._proc is not None and self._session is not None and self._log_path
        deadline = time.monotonic() + timeout
        probe = aiohttp.ClientTimeout(total=2.0)
        while True:
            code = self._proc.poll()
            if code is not None:
                return code
            try:
                async with self._session.get(f"{self._base_url}/models", timeout=probe) as r:
                    if r.status == 200:
                        return None
            except (aiohttp.ClientError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise ProviderError(
                    self.candidate.id,
                    f"the llama.cpp server did not answer "
                    f"within {timeout:g} s (provider.options.start_timeout_s); "
                    f"last lines of {self._log_path}:\n{_tail(self._log_path)}",
                )
            await asyncio.sleep(0.05)

    async def _stop_process(self) -> None:
        proc, self._proc, self._base_url = self._proc, None, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(proc.wait, _TERM_WAIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait)

    async def close(self) -> None:
        """Stop the server and close the HTTP session (safe without ``start()``)."""
        await self._stop_process()
        await super().close()

    async def model_info(self) -> ModelInfo | None:
        info = await super().model_info()
        if info is not None and info.context_window is None and self._n_ctx is not None:
            # llama_cpp.server does not report it; it is the n_ctx nova started it with.
            info = info.model_copy(update={"context_window": self._n_ctx})
        return info
