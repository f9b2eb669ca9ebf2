"""A slide's nuclei in an SQLite file with TIAToolbox's ``SQLiteStore`` schema, plus run state.

Schema (TIAToolbox ``annotation/storage.py``, version 1.0.1), written with the
standard library and shapely only:

* ``metadata(key TEXT UNIQUE, value TEXT)``: JSON values; ``version "1.0.1"``,
  ``compression "zlib"``, ``compression_level 9``;
* ``annotations(id INTEGER PRIMARY KEY, key TEXT UNIQUE, objtype TEXT, cx FLOAT,
  cy FLOAT, geometry BLOB, properties TEXT, area FLOAT)``: ``geometry`` is the
  zlib-compressed WKB of the polygon, ``properties`` JSON;
* ``rtree(id, min_x, max_x, min_y, max_y)``: an R-tree of the boxes.

mmcyclic adds ``mmcyclic_bands(band INTEGER PRIMARY KEY)`` (the tile bands
done) and ``mmcyclic_run(key TEXT PRIMARY KEY, value TEXT)`` (the run's
identity, the stitcher's open predictions, counters). A band's nuclei, its
done mark and the new state are committed in one transaction
(:meth:`NucleusStore.commit_band`): a run killed at any moment resumes after
the last committed band.
"""
import contextlib
import json
import os
import sqlite3
import uuid
import zlib
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple, Union

import shapely

PathLike = Union[str, os.PathLike]
STORE_VERSION = '1.0.1'
COMPRESSION_LEVEL = 9
# Keys are UUIDs derived from the slide and position, so reruns give the same keys.
_KEY_NAMESPACE = uuid.UUID('6f1b7f0e-3c55-4e39-9a53-8a2f9d8b7c11')
_SCHEMA = (
    'CREATE TABLE metadata (key TEXT UNIQUE, value TEXT)',
    'CREATE VIRTUAL TABLE rtree USING rtree(id, min_x, max_x, min_y, max_y)',
    'CREATE TABLE annotations(id INTEGER PRIMARY KEY, key TEXT UNIQUE, objtype TEXT, '
    'cx FLOAT NOT NULL, cy FLOAT NOT NULL, geometry BLOB, properties TEXT, area FLOAT NOT NULL)',
    'CREATE TABLE mmcyclic_bands (band INTEGER PRIMARY KEY)',
    'CREATE TABLE mmcyclic_run (key TEXT PRIMARY KEY, value TEXT)',
)


class NucleusStore:
    """Open (creating if needed) a store file.

    Args:
        path: The ``.db`` file.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(str(self.path), isolation_level=None)
        tables = {r[0] for r in self._con.execute("SELECT name FROM sqlite_master")}
        if 'annotations' not in tables:
            with self._transaction():
                for statement in _SCHEMA:
                    self._con.execute(statement)
                for key, value in (('version', STORE_VERSION), ('compression', 'zlib'),
                                   ('compression_level', COMPRESSION_LEVEL)):
                    self._con.execute('INSERT INTO metadata VALUES (?, ?)',
                                      (key, json.dumps(value)))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._con.execute('BEGIN IMMEDIATE')
        try:
            yield
        except BaseException:
            self._con.execute('ROLLBACK')
            raise
        self._con.execute('COMMIT')

    def run_value(self, key: str) -> Optional[Any]:
        """A run-state value (JSON), or ``None``."""
        row = self._con.execute('SELECT value FROM mmcyclic_run WHERE key = ?', (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_run_values(self, values: Dict[str, Any]) -> None:
        """Set run-state values in one transaction."""
        with self._transaction():
            self._set(values)

    def _set(self, values: Dict[str, Any]) -> None:
        self._con.executemany('REPLACE INTO mmcyclic_run VALUES (?, ?)',
                              [(k, json.dumps(v, allow_nan=False)) for k, v in values.items()])

    def done_bands(self) -> Set[int]:
        """The bands already committed."""
        return {r[0] for r in self._con.execute('SELECT band FROM mmcyclic_bands')}

    def pending_state(self) -> Optional[bytes]:
        """The stitcher state saved with the last band."""
        row = self._con.execute("SELECT value FROM mmcyclic_run WHERE key = 'pending'").fetchone()
        return None if row is None else bytes.fromhex(json.loads(row[0]))

    def commit_band(self, band: int, nuclei: Sequence[Tuple[Any, Dict[str, Any]]],
                    key_prefix: str, pending: bytes, values: Dict[str, Any]) -> None:
        """Add a band's nuclei, mark it done and save the state, all or nothing.

        Args:
            band: The band index.
            nuclei: ``(shapely polygon, properties)`` per nucleus.
            key_prefix: Makes the UUID keys (e.g. the slide's quickhash).
            pending: :meth:`~mmcyclic.wsi.streaming_stitch.StreamingStitcher.state_bytes`.
            values: Other run-state values to set (counters).
        """
        rows, boxes = [], []
        start = self.count()
        for offset, (geometry, properties) in enumerate(nuclei):
            index = start + offset + 1
            centroid = geometry.centroid
            key = str(uuid.uuid5(_KEY_NAMESPACE, f'{key_prefix}:{band}:{offset}'))
            blob = zlib.compress(shapely.to_wkb(geometry), COMPRESSION_LEVEL)
            rows.append((index, key, geometry.geom_type, centroid.x, centroid.y, blob,
                         json.dumps(properties, separators=(',', ':'), allow_nan=False),
                         geometry.area))
            x0, y0, x1, y1 = geometry.bounds
            boxes.append((index, x0, x1, y0, y1))
        with self._transaction():
            self._con.executemany('INSERT INTO annotations VALUES (?, ?, ?, ?, ?, ?, ?, ?)', rows)
            self._con.executemany('INSERT INTO rtree VALUES (?, ?, ?, ?, ?)', boxes)
            self._con.execute('INSERT INTO mmcyclic_bands VALUES (?)', (band,))
            self._set({'pending': pending.hex(), **values})

    def count(self) -> int:
        """The number of nuclei stored."""
        return self._con.execute('SELECT COUNT(*) FROM annotations').fetchone()[0]

    def iter_nuclei(self) -> Iterator[Tuple[Any, Dict[str, Any]]]:
        """``(shapely geometry, properties)`` of every nucleus, in id order."""
        cursor = self._con.execute('SELECT geometry, properties FROM annotations ORDER BY id')
        for blob, properties in cursor:
            yield shapely.from_wkb(zlib.decompress(blob)), json.loads(properties)

    def query_window(self, x0: float, y0: float, x1: float, y1: float) -> List[int]:
        """Ids of the nuclei whose box meets the window (R-tree), ascending."""
        rows = self._con.execute('SELECT id FROM rtree WHERE max_x >= ? AND min_x <= ? AND '
                                 'max_y >= ? AND min_y <= ? ORDER BY id', (x0, x1, y0, y1))
        return [r[0] for r in rows]

    def close(self) -> None:
        """Close the file."""
        self._con.close()

    def __enter__(self) -> 'NucleusStore':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
