"""Saving matplotlib figures (headless, atomic)."""
import io
import os
from typing import Any, Union

from .atomic import atomic_write_bytes


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig: Any, path: Union[str, os.PathLike], dpi: int = 100) -> None:
    """Write ``fig`` as PNG to ``path`` atomically and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=dpi)
    pyplot().close(fig)
    atomic_write_bytes(path, buffer.getvalue())
