"""One progress display for every long loop of the package.

Dataset conversion, seed extraction, teacher predictions, folder evaluation
and batch inference all report through :class:`Progress`: a tqdm bar on
stderr (stdout stays free for tables and reports), or a plain ``[done/total]``
counter where tqdm is not installed. :func:`progress_write` prints a line
without breaking the bars.
"""
import sys
from types import TracebackType
from typing import Optional, Type


class Progress:
    """A progress bar over ``total`` steps; silent when disabled.

    A disabled or empty bar prints nothing, so callers update it
    unconditionally. Without tqdm only outer bars (``position=0``) are shown,
    as a counter; nested ones (e.g. tiles under images) are not.

    Args:
        total (int): Number of steps.
        enabled (bool): Show anything at all (e.g. ``not --no-progress``, or
            rank 0 only in distributed runs).
        desc (str): Label in front of the bar.
        unit (str): Name of one step (``'image'``, ``'batch'``, ...).
        position (int): 0 for an outer bar, 1 for a bar nested under it.
        leave (bool): Keep the finished bar on screen.

    Attributes:
        done (int): Steps counted so far.
    """

    def __init__(self, total: int, enabled: bool = True, desc: str = '', unit: str = 'it',
                 position: int = 0, leave: bool = True) -> None:
        self.total, self.done, self.desc = total, 0, desc
        self._bar = None
        self._counter = False
        if not enabled or total <= 0:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            self._counter = position == 0
            return
        self._bar = tqdm(total=total, desc=desc or None, unit=unit, position=position,
                         leave=leave, file=sys.stderr, dynamic_ncols=True)

    def update(self, n: int = 1, note: Optional[str] = None) -> None:
        """Count ``n`` more steps.

        Args:
            n (int): Steps just finished.
            note (str, optional): Shown after the bar (e.g. the item's name).
        """
        self.done += n
        if self._bar is not None:
            if note is not None:
                self._bar.set_postfix_str(note, refresh=False)
            self._bar.update(n)
        elif self._counter:
            label = f'{self.desc} ' if self.desc else ''
            suffix = f' {note}' if note is not None else ''
            end = '\n' if self.done >= self.total else ''
            print(f'\r{label}[{self.done}/{self.total}]{suffix}', end=end, file=sys.stderr,
                  flush=True)

    def close(self) -> None:
        """Finish the bar (idempotent)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> 'Progress':
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]],
                 exc: Optional[BaseException], traceback: Optional[TracebackType]) -> None:
        self.close()


def progress_write(message: str) -> None:
    """Print ``message`` on its own line above any running :class:`Progress` bars.

    Args:
        message (str): The line to print (stdout).
    """
    try:
        from tqdm import tqdm
    except ImportError:
        print(message)
    else:
        tqdm.write(message, file=sys.stdout)
