"""The iii calls that replace Motia's state, stream, enqueue and response objects, built from the
original call's arguments (whose source, comments included, is kept as written)."""

import functools

import libcst as cst

# Positional parameters of Motia's state and stream methods, in order, and the payload key each
# becomes. Keyword arguments are matched by any of the names Motia's versions used.
STATE_PARAMS: dict[str, tuple[str, ...]] = {
    "get": ("scope", "key"),
    "set": ("scope", "key", "value"),
    "update": ("scope", "key", "ops"),
    "delete": ("scope", "key"),
    "list": ("scope",),
    "get_group": ("scope",),
    "getGroup": ("scope",),
    "list_groups": (),
    "clear": ("scope",),
}
STREAM_PARAMS: dict[str, tuple[str, ...]] = {
    "get": ("group_id", "item_id"),
    "set": ("group_id", "item_id", "data"),
    "delete": ("group_id", "item_id"),
    "get_group": ("group_id",),
    "getGroup": ("group_id",),
    "list": ("group_id",),
    "update": ("group_id", "item_id", "ops"),
    "list_groups": (),
}
KEYWORD_ALIASES = {
    "scope": "scope",
    "group": "scope",
    "group_id": "scope",
    "groupId": "scope",
    "trace_id": "scope",
    "key": "key",
    "item_id": "key",
    "value": "value",
    "data": "value",
    "ops": "ops",
}
STREAM_KEYWORD_ALIASES = {
    "group_id": "group_id",
    "groupId": "group_id",
    "id": "item_id",
    "item_id": "item_id",
    "itemId": "item_id",
    "data": "data",
    "value": "data",
    "ops": "ops",
}


def payload_fields(
    args: list[cst.Arg], names: tuple[str, ...], aliases: dict[str, str]
) -> dict[str, cst.BaseExpression] | None:
    """Payload key -> the argument (as written), or None when the arguments cannot be matched."""
    fields: dict[str, cst.BaseExpression] = {}
    for index, arg in enumerate(args):
        if arg.star:
            return None
        if arg.keyword is None:
            if index >= len(names):
                return None
            fields[names[index]] = arg.value
        else:
            key = aliases.get(arg.keyword.value)
            if key is None:
                return None
            fields[key] = arg.value
    if any(name not in fields for name in names):
        return None
    return {name: fields[name] for name in [*names, *(k for k in fields if k not in names)]}


def spread_payload(
    args: list[cst.Arg], names: tuple[str, ...], aliases: dict[str, str]
) -> list[cst.BaseDictElement] | None:
    """Arguments that start with one `*args` (`state.get(*key_of(user))`): the star fills the
    parameters the arguments after it do not, as Python would bind them, so the payload takes
    them from the same sequence (`**dict(zip(("scope", "key"), key_of(user)))`), evaluated once."""
    if not args or args[0].star != "*" or any(arg.star for arg in args[1:]):
        return None
    positional = [arg for arg in args[1:] if arg.keyword is None]
    keywords: dict[str, cst.BaseExpression] = {}
    for arg in args[1:]:
        if arg.keyword is not None:
            key = aliases.get(arg.keyword.value)
            if key is None:
                return None
            keywords[key] = arg.value
    leading = [name for name in names if name not in keywords]
    if names[: len(leading)] != tuple(leading) or len(positional) >= len(leading):
        return None
    spread = leading[: len(leading) - len(positional)]
    sequence = cst.Module(body=[]).code_for_node(args[0].value)
    keys = ", ".join(f'"{name}"' for name in spread) + ("," if len(spread) == 1 else "")
    elements: list[cst.BaseDictElement] = [
        cst.StarredDictElement(expression(f"dict(zip(({keys}), {sequence}))"))
    ]
    after = dict(zip(leading[len(spread) :], (arg.value for arg in positional), strict=True))
    elements += [cst.DictElement(string(k), v) for k, v in {**after, **keywords}.items()]
    return elements


def string(text: str) -> cst.SimpleString:
    return cst.SimpleString('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')


def dict_node(fields: dict[str, cst.BaseExpression]) -> cst.Dict:
    return cst.Dict([cst.DictElement(string(key), value) for key, value in fields.items()])


def trigger_call(function_id: str, payload: cst.BaseExpression, *, sync: bool) -> cst.Call:
    """`iii.trigger({...})` (sync) or `iii.trigger_async({...})`."""
    method = "trigger" if sync else "trigger_async"
    request = dict_node({"function_id": string(function_id), "payload": payload})
    return cst.Call(func=cst.Attribute(cst.Name("iii"), cst.Name(method)), args=[cst.Arg(request)])


@functools.lru_cache(maxsize=4096)
def expression(source: str) -> cst.BaseExpression:
    """A parsed expression for generated code (cached: libcst nodes are immutable)."""
    return cst.parse_expression(source)


def state_payload(op: str, args: list[cst.Arg]) -> cst.Dict | None:
    names = STATE_PARAMS.get(op)
    if names is None:
        return None
    if op != "clear" and (spread := spread_payload(args, names, KEYWORD_ALIASES)) is not None:
        return cst.Dict(spread)
    fields = payload_fields(args, names, KEYWORD_ALIASES)
    return None if fields is None else dict_node(fields)


def stream_payload(op: str, stream: str, args: list[cst.Arg]) -> cst.Dict | None:
    if op == "send":
        return stream_send_payload(stream, args)
    names = STREAM_PARAMS.get(op)
    if names is None:
        return None
    if (spread := spread_payload(args, names, STREAM_KEYWORD_ALIASES)) is not None:
        return cst.Dict([cst.DictElement(string("stream_name"), expression(stream)), *spread])
    fields = payload_fields(args, names, STREAM_KEYWORD_ALIASES)
    return None if fields is None else dict_node({"stream_name": expression(stream), **fields})


def stream_send_payload(stream: str, args: list[cst.Arg]) -> cst.Dict | None:
    """0.x `send(channel, event)`: channel {groupId, id?}, event {type, data} ->
    stream::send {stream_name, group_id, id, type, data}."""
    if len(args) != 2 or any(a.star or a.keyword for a in args):
        return None
    channel, event = (a.value for a in args)

    def field(source: cst.BaseExpression, key: str, optional: bool) -> cst.BaseExpression | None:
        if isinstance(source, cst.Dict):
            for element in source.elements:
                if (
                    isinstance(element, cst.DictElement)
                    and isinstance(element.key, cst.SimpleString)
                    and element.key.evaluated_value == key
                ):
                    return element.value
            return cst.Name("None") if optional else None
        if isinstance(source, cst.Name):
            return expression(
                f'{source.value}.get("{key}")' if optional else f'{source.value}["{key}"]'
            )
        return None

    fields = {
        "stream_name": expression(stream),
        "group_id": field(channel, "groupId", False),
        "id": field(channel, "id", True),
        "type": field(event, "type", False),
        "data": field(event, "data", False),
    }
    if any(v is None for v in fields.values()):
        return None
    return dict_node({k: v for k, v in fields.items() if v is not None})


def response_dict(call: cst.Call) -> cst.Dict | None:
    """`ApiResponse(status=..., body=..., headers=...)` -> `{"status_code": ..., ...}`."""
    fields: dict[str, cst.BaseExpression] = {}
    for arg in call.args:
        if arg.keyword is None or arg.star:
            return None
        key = {"status": "status_code"}.get(arg.keyword.value, arg.keyword.value)
        fields[key] = arg.value
    return dict_node(fields)
