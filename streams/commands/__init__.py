"""Sub-commands of the ``homerec`` CLI, one module each (see :data:`streams.cli.COMMANDS`)."""

from __future__ import annotations

__all__: list[str] = []
