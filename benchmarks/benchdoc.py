"""Shared by the benchmarks: the machine's name, peak memory of a call, and one ``## <title>``
section of docs/benchmarks.md."""
import platform
import re
import sys
import tracemalloc
from pathlib import Path

from mmcyclic.utils.atomic import atomic_write_bytes

DOC = Path(__file__).resolve().parents[1] / 'docs' / 'benchmarks.md'


def cpu_name() -> str:
    """The CPU model for the report (``/proc/cpuinfo``, else ``platform.processor()``)."""
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as handle:
            for line in handle:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def peak_mb(fn) -> float:
    """Peak memory allocated through Python's allocators while ``fn`` runs, in MiB
    (tracemalloc: numpy arrays count, also those OpenCV and scikit-image return; torch tensor
    storage does not)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2**20


def replace_section(doc: str, title: str, body: str) -> str:
    """Replace ``## title`` up to the next ``## `` heading, or append it."""
    section = f'## {title}\n\n{body.strip()}\n'
    pattern = re.compile(rf'^## {re.escape(title)}\n.*?(?=^## |\Z)', re.S | re.M)
    if pattern.search(doc):
        return pattern.sub(lambda _: section + '\n', doc, count=1).rstrip() + '\n'
    return doc.rstrip() + '\n\n' + section


def update_section(title: str, body: str) -> None:
    """Replace (or append) the section ``title`` of docs/benchmarks.md, atomically."""
    doc = DOC.read_text() if DOC.is_file() else '# Benchmarks\n'
    atomic_write_bytes(DOC, replace_section(doc, title, body).encode())


def publish(title: str, report: str, write_doc: bool = True) -> None:
    """Print ``report`` and, unless told not to, make it the section ``title`` of the doc."""
    print(report)
    if write_doc:
        update_section(title, report)
        print(f'\n(updated the "## {title}" section of {DOC})', file=sys.stderr)
