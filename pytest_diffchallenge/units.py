"""Memory sizes as challenge metadata writes them ('64 MiB') and as reports print them."""

from __future__ import annotations

import re
from decimal import Decimal

UNITS = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3}


MAX_SIZE = 2**63 - 1


def parse_size(text: str | int) -> int:
    """'64 MiB' -> 67108864. Integers are bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        size = Decimal(text)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", str(text))
        unit = (match.group(2) or "B").upper() if match else None
        if not match or unit not in UNITS:
            raise ValueError(f"not a memory size: {text!r} (write e.g. '64 MiB' or '2 GiB')")
        size = Decimal(match.group(1)) * UNITS[unit]  # exact: '2.01 KB' is 2010 bytes
    if not 0 <= size <= MAX_SIZE:
        raise ValueError(f"not a memory size: {text!r} (from 0 to {MAX_SIZE} bytes)")
    return int(size)


def format_size(num_bytes: float) -> str:
    return f"{num_bytes / 1024**2:.2f} MiB"
