"""Log lines that carry what they are about (strategy, subcloud, step).

:func:`bind` wraps a logger in an adapter that puts the context in front of each
message (``[strategy=3 subcloud=sc1 step=12] ended complete``) and on the record as
attributes of the same names, for formatters that want them as fields; a message then
says only what happened.
"""

import logging
from collections.abc import MutableMapping
from typing import Any

FIELDS = ("strategy", "subcloud", "step")


class ContextAdapter(logging.LoggerAdapter):
    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping]:
        context = {name: value for name, value in self.extra.items() if value is not None}
        kwargs["extra"] = {**context, **kwargs.get("extra", {})}
        prefix = " ".join(f"{name}={value}" for name, value in context.items())
        return (f"[{prefix}] {msg}" if prefix else msg), kwargs


def bind(
    logger: logging.Logger,
    strategy: int | None = None,
    subcloud: str | None = None,
    step: int | None = None,
) -> ContextAdapter:
    """``logger`` with this context on every line (None fields are left out; a step of
    no strategy is a standalone prestage)."""
    return ContextAdapter(logger, {"strategy": strategy, "subcloud": subcloud, "step": step})
