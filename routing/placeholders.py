"""Customer texts in the rules file, checked when it loads rather than when a customer is waiting.

kefu fills a template with `str.format`: a placeholder it does not provide ({人数} for
{position}) or a lone brace ({^_^}) would raise there, in the middle of a handoff or a wait
notice, long after the file was accepted. So each text declares what it is filled with, and
anything else is refused with the file's line, which keeps the last good rules live. Texts sent
as written are checked for the opposite mistake: a placeholder that nothing fills in.
"""

from __future__ import annotations

import re
from string import Formatter
from typing import Annotated

from pydantic import AfterValidator

_NAMED = re.compile(r"\{(\w+)\}")


def filled_with(*names: str) -> object:
    """A text `str.format`-ed with exactly these keyword `names` (a literal brace is doubled: {{ }})."""
    return Annotated[str, AfterValidator(lambda text: _check_template(text, names))]


def as_written(*elsewhere: str) -> object:
    """A text sent as it is. Braces are kept, so one of the placeholders other texts are filled with
    (`elsewhere`) would reach the customer as {queue_name}; other braces ({^_^}) are just text."""
    return Annotated[str, AfterValidator(lambda text: _check_plain(text, elsewhere))]


def _check_template(text: str, names: tuple[str, ...]) -> str:
    offered = ", ".join(f"{{{name}}}" for name in names)
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise ValueError(f"{exc}; write a literal brace as {{{{ or }}}}") from None
    for name, spec, conversion in fields:
        if name not in names:
            raise ValueError(
                f"unknown placeholder {{{name}}} (this text can use {offered}; a literal brace is written {{{{ or }}}})"
            )
        if spec or conversion:
            raise ValueError(f"write the placeholder as {{{name}}}, without a format or conversion")
    return text


def _check_plain(text: str, elsewhere: tuple[str, ...]) -> str:
    for found in _NAMED.finditer(text):
        if found.group(1) in elsewhere:
            raise ValueError(f"{found.group(0)} is not filled in here: this text is sent as written")
    return text
