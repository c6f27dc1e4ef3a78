"""Exit codes of the command line, shared by the CLI and the report writer."""

from enum import IntEnum


class ExitCode(IntEnum):
    """0 nothing flagged; 1 something flagged; 2 usage error (including no inputs found);
    3 nothing flagged but some inputs unreadable or skipped; 4 fatal (weights missing or
    corrupt, device asked for but absent); 130 interrupted (Ctrl-C)."""

    CLEAN = 0
    FLAGGED = 1
    USAGE = 2
    INCOMPLETE = 3
    FATAL = 4
    INTERRUPTED = 130
