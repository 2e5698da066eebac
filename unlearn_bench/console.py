"""What the command line holds back: stderr until the first job starts (``unlearn_bench.__main__``). Its own module,
so a launcher that pickles the task function never pickles the held stream (a file open for writing)."""

from __future__ import annotations

import io
import sys


class HeldStderr(io.StringIO):
    """Holds what is written to stderr until the first job starts: Hydra prints a traceback when it cannot create the
    output folder (before any job), which ``cli`` replaces with one line; anything else held is written through."""

    def hold(self) -> None:
        self.real = sys.stderr
        self.seek(0)
        self.truncate()
        sys.stderr = self

    def release(self) -> None:
        if sys.stderr is self:
            sys.stderr = self.real
            self.real.write(self.getvalue())


HELD_STDERR = HeldStderr()
