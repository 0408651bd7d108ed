"""The catalogue as a Markdown page; its prose lives in templates/ beside this module."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from tools.docs.model import EventMap
from tools.docs.schemas import schema_path


def _template(name: str) -> str:
    return files("tools.docs").joinpath("templates", name).read_text("utf-8")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def readme(events: EventMap) -> str:
    """The catalogue as a Markdown page, with the envelope and the versioning rule."""
    lines = [_template("readme-intro.md")]
    lines.append(
        "| Event type | Producer | Stream | Consumers (service/durable) | Summary | Schema |"
    )
    lines.append("|---|---|---|---|---|---|")
    for event in events.events:
        consumers = "<br>".join(f"{c.service}/`{c.durable}`" for c in event.consumers) or "none yet"
        path = schema_path(event.type_name)
        lines.append(
            f"| `{event.type_name}` | {event.producer} | `{event.stream}` | {consumers} "
            f"| {_cell(event.entry.summary)} | [`{Path(path).name}`]({path}) |"
        )
    if not events.events:
        lines.append("| *(no events yet)* | | | | | |")
    lines.append("")
    lines.append("### By service")
    lines.append("")
    lines.append("| Service | Stream | Publishes | Consumes |")
    lines.append("|---|---|---|---|")
    for service in events.services:
        publishes = [f"`{e.type_name}`" for e in events.events if e.producer == service]
        consumes = [
            f"`{e.type_name}` (`{c.durable}`)"
            for e in events.events
            for c in e.consumers
            if c.service == service
        ]
        stream = events.streams.get(service, f"PB_{service.upper()}")
        lines.append(
            f"| {service} | `{stream}` | {'<br>'.join(publishes) or '-'} "
            f"| {'<br>'.join(consumes) or '-'} |"
        )
    lines.append("")
    lines.append(_template("readme-envelope.md"))
    return "\n".join(lines)
