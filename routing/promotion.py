"""Switch promotion mode (大促模式) in the rules file itself, keeping the ops' comments and layout.

The file stays the one source of truth: the running service picks the change up by its hot
reload, like any hand edit. The edited text is validated before it replaces the file, so a
switch can never leave a broken rules file behind.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from ruamel.yaml import YAML

from routing.rules import Rules, load_rules


def switch_promotion(path: Path, *, enabled: bool, banner: str | None = None) -> Rules:
    """Set `promotion_mode.enabled` (and the banner, when given); return the validated rules."""
    yaml = YAML()  # round trip: comments, order and quoting survive
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)  # the layout of the shipped file: "  - item"
    yaml.width = 4096  # never re-wrap a long line ops wrote on one line
    document = yaml.load(path.read_text(encoding="utf-8"))
    mode = document.setdefault("promotion_mode", {})
    mode["enabled"] = enabled
    if banner is not None:
        mode["banner"] = banner
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return _replace_validated(path, buffer.getvalue())


def _replace_validated(path: Path, text: str) -> Rules:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".yaml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        rules = load_rules(Path(temporary))  # raises RulesError naming the line; the old file stays
        os.replace(temporary, path)  # atomic: the watcher sees one complete new version
        return rules
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
