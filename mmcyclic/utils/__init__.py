"""Small utilities shared by the whole package."""
from .atomic import atomic_open, atomic_write_bytes, atomic_write_json

__all__ = ['atomic_open', 'atomic_write_bytes', 'atomic_write_json']
