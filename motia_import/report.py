"""MIGRATION.md and the terminal table: every step, trigger and construct, converted or TODO with
the reason, plus the topic and route checks Motia's workbench used to make visible."""

from collections import defaultdict
from dataclasses import dataclass

from motia_import.convert import Converted
from motia_import.model import Finding, Status
from motia_import.project import SourceProject

# The first line of MIGRATION.md: how `--force` recognises an earlier import.
MIGRATION_HEADER = "# Migration from Motia"
STATUS_ORDER = {Status.TODO: 0, Status.NOTE: 1, Status.SKIPPED: 2, Status.CONVERTED: 3}


@dataclass
class Checks:
    unsubscribed: list[str]
    unpublished: list[str]
    several_subscribers: list[tuple[str, list[str]]]
    duplicate_routes: list[tuple[str, list[str]]]


def checks(converted: Converted) -> Checks:
    unsubscribed = sorted(
        t
        for t, e in converted.topics.items()
        if e["publishers"] and not e["subscribers"] and not e["other"]
    )
    unpublished = sorted(
        t
        for t, e in converted.topics.items()
        if e["subscribers"] and not e["publishers"] and not e["other"]
    )
    several = sorted(
        (t, sorted(set(e["subscribers"])) + e["other"])
        for t, e in converted.topics.items()
        if len(set(e["subscribers"])) + len(e["other"]) > 1
    )
    duplicates = converted.duplicate_routes
    return Checks(unsubscribed, unpublished, several, duplicates)


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def migration_markdown(source: SourceProject, converted: Converted, worker: str) -> str:
    findings = sorted(converted.findings, key=lambda f: (f.where.split(":")[0], line_of(f), f.what))
    todos = [f for f in findings if f.status is Status.TODO]
    check = checks(converted)
    runner = "steps run by Node" if source.generation == "0.x" else "Python motia"
    if source.motia_range:
        newest = f" ({source.motia_version} or later)" if source.motia_version else ""
        version = (
            f"motia {source.motia_range.strip()} in {source.version_source}, no lock file: "
            f"the newest release it allows{newest}; {runner}"
        )
    else:
        pinned = f"motia {source.motia_version}" if source.motia_version else "an unpinned motia"
        version = f"{pinned}, read from {source.version_source}; {runner}"
    lines = [
        MIGRATION_HEADER,
        "",
        f"Imported from the Motia project `{source.name}` ({version}) by `python -m motia_import`.",
        f"Step files were found by the rule of {converted.rule}.",
        "",
        f"- {len(converted.steps)} step(s) converted into `src/steps/`, "
        f"{len(converted.registration.triggers)} trigger(s) registered as "
        f"{len(converted.registration.functions)} iii function(s)",
        f"- **{len(todos)} TODO(s)** left in the code as `# TODO(motia-import): <why>` (listed below)",
        "",
        "## How the converted code works",
        "",
        "- **One iii function per trigger.** Motia registered one function per trigger too, so each "
        "trigger keeps its identity: a step with one trigger registers "
        f"`{worker}::steps::<step>`, a step with several `{worker}::steps::<step>::<kind>` "
        "(`-2`, `-3` when a kind repeats). Handlers that asked which trigger fired (`ctx.trigger`, "
        "`ctx.match`, `ctx.is_api()`) get the trigger's details as a second argument from a small "
        "wrapper per trigger; a condition becomes a condition function of its own trigger.",
        "- **Layout.** Every step file is a module of the package `src/steps/` (same folders, "
        "without `_step`/`.step` in the name); the project modules the steps import are kept "
        "beside them with their imports rewritten to `src.steps...`, so no `sys.path` change is "
        "needed. `src/steps/__init__.py` imports every step; `src/main.py` imports the package.",
        "- **Motia's context is gone.** iii-sdk hands a handler the payload alone: "
        "`ctx.logger` is the client's `logger`, `ctx.state`/`stateManager` are `state::*` calls, "
        "streams are `stream::*` calls, `emit`/`enqueue` publish with `iii::durable::publish`, "
        "`ctx.trace_id` is the invocation's trace id. Helpers that received the context no longer "
        "take it. `src/steps/motia_compat.py` holds the few helpers this needs.",
        "- **Requests and responses** are the engine's dicts: `path_params`, `query_params`, "
        "`body`, `headers`; responses carry `status_code` (the engine ignores `status` and "
        "`statusCode`: every answer would be a 200).",
        "- **Middleware** that only inspects the request and continues or answers runs in the "
        "engine (`middleware_function_ids`); the rest runs in-process around the handler, as "
        "Motia ran it.",
        "- **Checks.** `tests/test_imported_steps.py` checks that the worker registers exactly "
        "these functions and triggers. The converted code keeps its own style: the project's "
        "`mypy --strict` skips `src.steps` (a per-module override in `pyproject.toml`), and ruff "
        "checks it for errors (syntax, undefined names) but not for style.",
        "",
        "## Steps and triggers",
        "",
        "| step | file | trigger | becomes | |",
        "|---|---|---|---|---|",
    ]
    for finding in findings:
        if finding.what.startswith(("trigger ", "condition ")):
            lines.append(
                f"| {cell(finding.step)} | `{finding.where}` | {cell(finding.what)} | "
                f"{cell(finding.detail)} | {finding.status.value} |"
            )
    lines += ["", "## TODO", ""]
    if todos:
        lines += ["| where | what | why |", "|---|---|---|"]
        lines += [f"| `{f.where}` | {cell(f.what)} | {cell(f.detail)} |" for f in todos]
    else:
        lines.append("Nothing: every construct was converted.")
    lines += ["", "## Topics", ""]
    if converted.topics:
        lines += [
            "| topic | subscribers | publishers | TypeScript/JavaScript steps |",
            "|---|---|---|---|",
        ]
        for topic, entry in sorted(converted.topics.items()):
            lines.append(
                f"| `{topic}` | {cell(', '.join(sorted(set(entry['subscribers']))) or '-')} | "
                f"{cell(', '.join(sorted(set(entry['publishers']))) or '-')} | "
                f"{cell(', '.join(entry['other']) or '-')} |"
            )
    else:
        lines.append("No queue topics.")
    lines += [
        "",
        f"- Topics nobody subscribes to: {', '.join(f'`{t}`' for t in check.unsubscribed) or 'none'}",
        f"- Topics nobody publishes (from Python steps): "
        f"{', '.join(f'`{t}`' for t in check.unpublished) or 'none'}",
        "- Topics with several subscribers: "
        + ("; ".join(f"`{t}` ({', '.join(s)})" for t, s in check.several_subscribers) or "none"),
        "- Duplicate routes: "
        + ("; ".join(f"`{r}` ({', '.join(ids)})" for r, ids in check.duplicate_routes) or "none"),
        "",
        "## Everything else",
        "",
        "| where | what | status | detail |",
        "|---|---|---|---|",
    ]
    for finding in findings:
        if finding.what.startswith(("trigger ", "condition ")) or finding.status is Status.TODO:
            continue
        lines.append(
            f"| `{finding.where}` | {cell(finding.what)} | {finding.status.value} | {cell(finding.detail)} |"
        )
    lines += ["", "## Dependencies", ""]
    deps = source.dependencies
    if deps.requirements:
        lines.append(
            f"Carried over from {', '.join(dict.fromkeys(deps.sources))} into `pyproject.toml` "
            "(without motia; the template pins iii-sdk):"
        )
        lines += [""] + [f"- `{r}`" for r in deps.requirements]
    else:
        lines.append("No dependencies besides motia.")
    lines += [f"- {n}" for n in deps.notes]
    lines += ["", "## Project files carried", ""]
    if converted.carried:
        lines.append(
            "Read through paths built from `__file__`: each is at the same place relative to its "
            "module's new file, inside `src/` (so the wheel and the image carry it):"
        )
        lines += [""] + [
            f"- `{original}` -> `{place}`" for place, original in sorted(converted.carried.items())
        ]
    else:
        lines.append("None.")
    lines += [
        "",
        "## Warnings",
        "",
        "The template's pytest turns warnings into errors. The imported code's deprecation, "
        "future and user warnings (Motia printed them) stay warnings: `pyproject.toml` adds "
        '`"default::DeprecationWarning"`-style filters after `"error"`. Remove them once the '
        "converted code is clean.",
    ]
    lines += [
        "",
        "## Behaviour that differs from Motia",
        "",
        "- Each iii invocation has its own trace: a Motia trace id shared along a flow (and used "
        "as a state scope or message field) is not shared any more; the TODOs above mark where "
        "the code relied on it.",
        "- `state::get` returns the stored value itself; some Motia 0.x releases wrapped it in "
        '`{"data": ...}`, which code may still unwrap.',
        "- Motia loaded `.env` on start; the worker reads its environment as it is.",
        "- Queue subscribers are durable and retried on error (at least once): handlers must be "
        "idempotent.",
        "",
    ]
    return "\n".join(lines)


def line_of(finding: Finding) -> int:
    _, _, line = finding.where.partition(":")
    return int(line) if line.isdigit() else 0


def terminal_table(converted: Converted) -> str:
    """What the command prints: one row per step and trigger, then the TODOs and checks."""
    rows: list[tuple[str, str, str, str]] = []
    for finding in sorted(converted.findings, key=lambda f: (STATUS_ORDER[f.status], f.where)):
        if (
            finding.what.startswith(("trigger ", "step "))
            or finding.status is Status.TODO
            or (finding.what == "file" and finding.status is Status.SKIPPED)
        ):
            rows.append((finding.status.value, finding.where, finding.what, finding.detail))
    widths = [
        max([len(r[i]) for r in rows] + [len(h)])
        for i, h in enumerate(("status", "where", "what", ""))
    ]
    widths = [min(w, 48) for w in widths]
    out = [
        f"{'status':<{widths[0]}}  {'where':<{widths[1]}}  {'what':<{widths[2]}}  detail",
    ]
    for status, where, what, detail in rows:
        out.append(
            f"{status:<{widths[0]}}  {where[: widths[1]]:<{widths[1]}}  {what[: widths[2]]:<{widths[2]}}  {detail}"
        )
    check = checks(converted)
    counts: dict[Status, int] = defaultdict(int)
    for finding in converted.findings:
        counts[finding.status] += 1
    out.append("")
    out.append(
        f"{len(converted.steps)} step(s), {len(converted.registration.triggers)} trigger(s) registered; "
        f"{counts[Status.TODO]} TODO(s), {counts[Status.SKIPPED]} skipped (details in MIGRATION.md)"
    )
    if check.unsubscribed:
        out.append("topics nobody subscribes to: " + ", ".join(check.unsubscribed))
    if check.several_subscribers:
        out.append(
            "topics with several subscribers: " + ", ".join(t for t, _ in check.several_subscribers)
        )
    if check.duplicate_routes:
        out.append("duplicate routes: " + ", ".join(r for r, _ in check.duplicate_routes))
    return "\n".join(out)
