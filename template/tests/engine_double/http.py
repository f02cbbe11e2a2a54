# Owned by the copier-iii-worker template: `copier update` replaces this file.
"""The http worker: routing, conditions, middleware, error envelopes, request bodies as serde_json
parses them, and responses returned or streamed over channels, as the line's worker serves them."""

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .protocol import Channel, EngineWorker, HttpResponse, InvocationFailed, Message, bounded

if TYPE_CHECKING:
    from .core import EngineDouble


@dataclass
class Route:
    trigger: Message
    method: str
    path: str  # as the line's http worker keeps it (0.25 turns `{id}` into `:id`)

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]


def _is_param(segment: str) -> bool:
    return segment.startswith(":") or (
        len(segment) > 2 and segment.startswith("{") and segment.endswith("}")
    )


def _route_params(route: Route, path: str) -> dict[str, str] | None:
    """Path params if `path` matches the route (only `:name` segments are captured)."""
    wanted = [s for s in path.split("/") if s]
    if len(wanted) != len(route.segments):
        return None
    params: dict[str, str] = {}
    for pattern, actual in zip(route.segments, wanted, strict=True):
        if pattern.startswith(":"):
            params[pattern[1:]] = actual
        elif not _is_param(pattern) and pattern != actual:
            return None
    return params


def _shape(method: str, path: str) -> str:
    segments = ["{}" if _is_param(s) else s for s in path.split("/")]
    return f"{method}:{'/'.join(segments)}"


BODY_CHUNK = 64 * 1024  # a non-JSON body goes a frame per chunk read (the SDK takes 1 MiB frames)

# serde_json refuses input nested 128 deep (its recursion limit counts every `[` and `{`).
SERDE_DEPTH_LIMIT = 128
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _json_bytes(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":")).encode()
    except RecursionError:  # deeper than Python's encoder goes: encode without recursion
        return _deep_json(value).encode()


def _deep_json(value: Any) -> str:
    parts: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Raw):
            parts.append(item.text)
        elif isinstance(item, dict):
            stack.append(_Raw("}"))
            for index, (key, inner) in reversed(list(enumerate(item.items()))):
                stack.extend([inner, _Raw(("," if index else "") + json.dumps(str(key)) + ":")])
            stack.append(_Raw("{"))
        elif isinstance(item, (list, tuple)):
            stack.append(_Raw("]"))
            for index, inner in reversed(list(enumerate(item))):
                stack.extend([inner, _Raw("," if index else "")])
            stack.append(_Raw("["))
        else:
            parts.append(json.dumps(item))
    return "".join(parts)


@dataclass(frozen=True)
class _Raw:
    text: str


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _serde_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return number


def _serde_int(text: str) -> int | float:
    number = int(text)  # serde_json keeps i64 and u64; anything wider becomes an f64
    return number if -(2**63) <= number < 2**64 else _serde_float(text)


def serde_json_loads(raw: bytes) -> Any:
    """Parse `raw` as serde_json::from_slice does, raising ValueError where it fails: strict
    UTF-8 (no BOM), no NaN or Infinity, at most 127 levels of nesting, no lone surrogate
    (`"\\ud800"`), integers wider than 64 bits read as floats."""
    text = raw.decode("utf-8")  # UnicodeDecodeError is a ValueError
    bare = _STRING.sub('""', text)  # the deepest `[`/`{` nesting outside strings
    if max(accumulate((c in "[{") - (c in "]}") for c in bare), default=0) >= SERDE_DEPTH_LIMIT:
        raise ValueError("recursion limit exceeded")
    value = json.loads(
        text, parse_constant=_refuse_constant, parse_float=_serde_float, parse_int=_serde_int
    )
    try:  # json.loads joins escaped surrogate pairs; a lone one is left, and does not encode
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise ValueError("lone surrogate in hex escape") from None
    return value


def _decoded(content: bytes, headers: dict[str, str]) -> Any:
    if not content:
        return None
    text = content.decode("utf-8", "replace")
    if "json" in headers.get("content-type", ""):
        with contextlib.suppress(ValueError):
            return json.loads(text)
    return text


class Provider(EngineWorker):
    """The http worker of the line."""

    def __init__(self, engine: "EngineDouble") -> None:
        super().__init__(engine)
        self._routes: dict[str, Route] = {}

    def refusal(self, trigger: Message) -> str | None:
        config = trigger.get("config")
        if not (isinstance(config, dict) and isinstance(config.get("api_path"), str)):
            if self.rules.http_registry:
                return "invalid http trigger config: missing field `api_path`"
            return "api_path is required for http triggers"
        route = self._route_of(trigger)
        return None if route is None else self._route_conflict(route)

    def registered(self, trigger: Message) -> None:
        route = self._route_of(trigger)
        if route is not None:
            self._routes[self._route_key(route)] = route

    def unregistered(self, trigger: Message) -> None:
        for key, route in list(self._routes.items()):
            if route.trigger["id"] == trigger["id"]:
                del self._routes[key]

    def request(
        self,
        method: str,
        path: str,
        body: Any,
        headers: dict[str, str] | None,
        query: Mapping[str, str | list[str]] | None,
        data: bytes | str | None,
    ) -> HttpResponse:
        """`EngineDouble.http`."""
        request_headers = {name.lower(): value for name, value in (headers or {}).items()}
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data or b""
        if body is not None:
            raw = _json_bytes(body)
            request_headers.setdefault("content-type", "application/json")
        request_headers.setdefault("host", "127.0.0.1:3111")
        if raw:
            request_headers.setdefault("content-length", str(len(raw)))
        route, _, query_string = path.partition("?")
        pairs = parse_qsl(query_string, keep_blank_values=True)  # `?a=` is `a: ""` for real
        for name, value in (query or {}).items():
            pairs.extend((name, item) for item in (value if isinstance(value, list) else [value]))
        params = dict(pairs)  # serde_urlencoded into a map: the last value of a key wins
        coroutine = self._http(method.upper(), route, raw, request_headers, params)
        return self.engine._run(coroutine, self.engine.http_timeout + 10)

    def _route_of(self, trigger: Message) -> Route | None:
        config = trigger.get("config")
        if not isinstance(config, dict) or not isinstance(config.get("api_path"), str):
            return None
        path = config["api_path"]
        if self.rules.http_registry:  # the registry worker normalizes `{id}` to `:id`
            path = "/".join(
                f":{s[1:-1]}" if _is_param(s) and s[0] == "{" else s for s in path.split("/")
            )
        method = str(config.get("http_method") or "GET").upper()
        return Route(trigger, method, path)

    def _route_key(self, route: Route) -> str:
        if self.rules.http_registry:  # the registry worker keys routes by trigger
            return str(route.trigger["id"])
        return f"{route.method}:{route.path if route.path == '/' else route.path.lstrip('/')}"

    def _route_conflict(self, route: Route) -> str | None:
        key, shape = self._route_key(route), _shape(route.method, route.path)
        for other_key, other in self._routes.items():
            if other_key != key and _shape(other.method, other.path) == shape:
                return (
                    f"Route '{route.method} {route.path}' conflicts with already-registered route "
                    f"'{other.method} {other.path}': routes with identical structure but different "
                    "path-parameter names are not supported"
                )
        return None

    def _match_route(
        self, method: str, path: str
    ) -> tuple[Route | None, dict[str, str], list[str]]:
        """The route, its path params, and (when no route has the method) the allowed methods."""
        candidates = [
            (r, p) for r in self._routes.values() if (p := _route_params(r, path)) is not None
        ]
        if self.rules.http_registry:
            # The registry worker: routes of this method; the fewest parameters win.
            same = [(r, p) for r, p in candidates if r.method == method]
            if same:
                route, params = min(same, key=lambda c: sum(map(_is_param, c[0].segments)))
                return route, params, []
            return None, {}, sorted({r.method for r, _ in candidates})
        if not candidates:
            return None, {}, []
        # axum's matcher picks a path first (a literal segment beats a parameter), then a method.
        best = min(candidates, key=lambda c: [_is_param(s) for s in c[0].segments])[0].path
        at_path = [(r, p) for r, p in candidates if r.path == best]
        for route, params in at_path:
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route, params, []
        methods = {r.method for r, _ in at_path}
        return None, {}, sorted(methods | ({"HEAD"} if "GET" in methods else set()))

    def _error(
        self, status: int, code: str, message: str, *, error_id: bool = True
    ) -> HttpResponse:
        """An engine-made error: flat on 0.11, the `{error: {code, message}}` envelope after."""
        extra = {"error_id": format(time.time_ns() & 0xFFFFFFFFFFFF, "x")} if error_id else {}
        if self.rules.http_flat_errors:
            return self._json_response(status, {"error": message, **extra})
        return self._json_response(status, {"error": {"code": code, "message": message, **extra}})

    @staticmethod
    def _json_response(
        status: int, body: Any, headers: dict[str, str] | None = None
    ) -> HttpResponse:
        return HttpResponse(
            status, body, {"content-type": "application/json", **(headers or {})}, _json_bytes(body)
        )

    def _failure(self, failed: InvocationFailed) -> HttpResponse:
        """A 500 for a function that failed (handler, middleware or condition)."""
        code, message = failed.error.get("code", ""), failed.error.get("message", "")
        if self.rules.http_registry:  # the registry worker reports the SDK error's text
            return self._error(500, "INTERNAL_ERROR", f"remote error ({code}): {message}")
        return self._error(500, code, message)

    async def _http(
        self, method: str, path: str, raw: bytes, headers: dict[str, str], query: dict[str, str]
    ) -> HttpResponse:
        route, path_params, allowed = self._match_route(method, path)
        if route is None and allowed:
            if self.rules.http_registry:
                return self._json_response(
                    405,
                    {"error": {"code": "METHOD_NOT_ALLOWED", "message": "Method Not Allowed"}},
                    {"allow": ", ".join(allowed)},
                )
            return HttpResponse(405, None, {"allow": ",".join(allowed)})
        if route is None:
            if self.rules.http_flat_errors:
                return HttpResponse(404, None)  # axum's bare 404
            return self._error(404, "NOT_FOUND", "Not Found", error_id=False)
        request = {
            "path_params": path_params,
            "query_params": query,
            "headers": headers,
            "method": method,
        }
        exchange = self._exchange(route, request, path, raw)
        if self.rules.http_registry:
            return await exchange  # the registry worker bounds each call itself
        try:  # the in-engine worker's tower-http TimeoutLayer
            response: HttpResponse = await bounded(exchange, self.engine.http_timeout)
        except TimeoutError:
            return HttpResponse(504, None)
        return response

    def _request_body(self, raw: bytes, headers: dict[str, str]) -> Any:
        json_typed = "application/json" in headers.get("content-type", "")
        if not raw or not (json_typed or self.rules.http_registry):
            return None  # up to 0.22 only a JSON Content-Type is parsed
        try:
            return serde_json_loads(raw)
        except ValueError:
            return None

    async def _exchange(
        self, route: Route, request: Message, actual_path: str, raw: bytes
    ) -> HttpResponse:
        """Condition, route middleware, then the handler, with the request body and the response
        on channels the handler may read and write."""
        body = self._request_body(raw, request["headers"])
        json_typed = "application/json" in request["headers"].get("content-type", "")
        request_channel, response_channel = self.engine._open_channel(), self.engine._open_channel()
        try:
            if raw and not (self.rules.http_flat_errors and json_typed):  # 0.11 keeps JSON off
                step = len(raw) if json_typed else BODY_CHUNK
                for start in range(0, len(raw), step):
                    request_channel.frames.put_nowait(raw[start : start + step])
            request_channel.frames.put_nowait(None)
            payload = {
                **request,
                "path": route.path,
                "body": body,
                "trigger": {
                    "type": "http",
                    "path": actual_path if self.rules.http_registry else route.path,
                    "method": request["method"],
                },
            }
            refused = await self._before_handler(route, request, payload)
            if refused is not None:
                return refused
            refs = {
                "request_body": request_channel.ref("read"),
                "response": response_channel.ref("write"),
            }
            metadata = self.engine._sidecar(route.trigger) if self.rules.http_metadata else None
            return await self._handled(route, {**payload, **refs}, metadata, response_channel)
        finally:
            for channel in (request_channel, response_channel):
                self.engine._channels.pop(channel.id, None)

    async def _before_handler(
        self, route: Route, request: Message, payload: Message
    ) -> HttpResponse | None:
        """The route's condition (422 when unmet), then its middleware in order (the first
        `respond` answers); None lets the request through to the handler."""
        within = self.engine.http_timeout if self.rules.http_registry else None
        try:
            passes = await self.engine._passes(route.trigger, payload, within)
        except InvocationFailed as failed:
            return self._failure(failed)
        except TimeoutError:
            return self._error(500, "INTERNAL_ERROR", "invocation timed out")
        if not passes:
            unmet = "Request condition not met"
            if self.rules.http_flat_errors:
                return self._json_response(422, {"error": unmet, "skipped": True})
            envelope = {"error": {"code": "CONDITION_NOT_MET", "message": unmet}}
            return self._json_response(422, {**envelope, "skipped": True})
        for middleware in route.trigger["config"].get("middleware_function_ids") or []:
            try:
                answer = await self._middleware(middleware, request, within)
            except InvocationFailed as failed:
                return self._failure(failed)
            except TimeoutError:
                return self._error(504, "MIDDLEWARE_TIMEOUT", "Middleware timeout", error_id=False)
            if answer is not None:
                return answer
        return None

    async def _middleware(
        self, function_id: str, request: Message, within: float | None
    ) -> HttpResponse | None:
        verdict = await self.engine._call(
            function_id, {"phase": "preHandler", "request": request, "context": {}}, within=within
        )
        if not isinstance(verdict, dict) or verdict.get("action") != "respond":
            return None  # `continue`, or anything else (the engine warns and continues)
        response = verdict.get("response")
        if not isinstance(response, dict):
            response = {}
        status = response.get("status_code")
        headers = response.get("headers")
        if not (isinstance(headers, dict) and all(isinstance(v, str) for v in headers.values())):
            headers = {}  # only a map of strings is read
        status = status if isinstance(status, int) and 100 <= status < 1000 else 200
        return self._json_response(
            status, response.get("body"), {k.lower(): v for k, v in headers.items()}
        )

    async def _handled(
        self, route: Route, payload: Message, metadata: Any, channel: Channel
    ) -> HttpResponse:
        """The handler's answer: what it returns, or (when it returns nothing) what it streams."""
        controls: Message = {"status": 200, "headers": {}}
        within = self.engine.http_timeout if self.rules.http_registry else None
        call = asyncio.ensure_future(
            self.engine._call(route.trigger["function_id"], payload, metadata, within)
        )
        first = asyncio.ensure_future(self._first_chunk(channel, controls))
        try:
            await asyncio.wait({call, first}, return_when=asyncio.FIRST_COMPLETED)
            if not first.done():
                try:
                    result = call.result()
                except InvocationFailed as failed:
                    return self._failure(failed)
                except TimeoutError:
                    return self._error(500, "INTERNAL_ERROR", "invocation timed out")
                if result is not None:
                    return self._buffered(result)
                # The registry worker: an idle timeout, then whatever status was set, no body.
                if self.rules.http_registry:
                    with contextlib.suppress(TimeoutError):
                        await bounded(asyncio.shield(first), self.engine.http_timeout)
                    if not first.done():
                        first.cancel()
                        return HttpResponse(controls["status"], None, dict(controls["headers"]))
            return await self._streamed(await first, channel, controls)
        finally:
            for task in (call, first):
                task.cancel()
                if task.done() and not task.cancelled():
                    task.exception()  # a handler that failed after the answer was sent: seen

    async def _first_chunk(self, channel: Channel, controls: Message) -> bytes | None:
        """Text frames before the body set the status and headers; the first binary frame starts
        the body (None: the handler closed the channel without a body)."""
        while (frame := await channel.frames.get()) is not None:
            if isinstance(frame, bytes):
                return frame
            with contextlib.suppress(ValueError, AttributeError):
                control = json.loads(frame)
                if control.get("type") == "set_status":
                    status = control.get("status_code")
                    if isinstance(status, int) and 100 <= status <= 599:
                        controls["status"] = status
                elif control.get("type") == "set_headers":
                    for name, value in (control.get("headers") or {}).items():
                        if isinstance(value, str):
                            controls["headers"][name.lower()] = value
        return None

    async def _streamed(
        self, first: bytes | None, channel: Channel, controls: Message
    ) -> HttpResponse:
        chunks = [first] if first is not None else []
        while first is not None:
            try:  # the body ends when the handler closes the channel (or goes idle too long)
                frame = await bounded(channel.frames.get(), self.engine.http_timeout)
            except TimeoutError:
                break
            if frame is None:
                break
            if isinstance(frame, bytes):
                chunks.append(frame)
        headers = dict(controls["headers"])
        content = b"".join(chunks)
        return HttpResponse(controls["status"], _decoded(content, headers), headers, content)

    @staticmethod
    def _buffered(result: Any) -> HttpResponse:
        """A returned response: only `status_code` counts (`statusCode` is ignored); headers are a
        map or `["Name: value"]` lines; a string body with a Content-Type of your own goes raw."""
        value = result if isinstance(result, dict) else {}
        status = value.get("status_code")  # True and False are ints, and out of range
        status = status if isinstance(status, int) and 100 <= status < 1000 else 200
        headers: dict[str, str] = {}
        listed = value.get("headers")
        if isinstance(listed, list):
            for line in listed:
                name, colon, header = line.partition(":") if isinstance(line, str) else ("", "", "")
                if colon and name.strip():
                    headers[name.strip().lower()] = header.strip()
        elif isinstance(listed, dict):
            headers = {str(k).lower(): v for k, v in listed.items() if isinstance(v, str)}
        body = value.get("body", {})
        content_type = headers.get("content-type")
        if content_type is not None and isinstance(body, str):
            return HttpResponse(status, body, headers, body.encode())
        if content_type is not None and body is None:
            return HttpResponse(status, None, headers, b"")
        if content_type is not None and "application/json" not in content_type.lower():
            return HttpResponse(status, json.dumps(body), headers, _json_bytes(body))
        headers.setdefault("content-type", "application/json")
        return HttpResponse(status, body, headers, _json_bytes(body))
