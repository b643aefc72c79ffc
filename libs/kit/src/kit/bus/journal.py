"""The memory broker's log and committed offsets in a SQLite file, so the embedded bus keeps Kafka's
durability: a published event survives a restart, and each group resumes after its last commit.

WAL with synchronous=NORMAL: a write survives the process dying at any point; a power cut may lose
the last few, as a single Kafka broker that has not flushed its page cache would."""

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from kit.events import CloudEvent

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
                                    key TEXT, event TEXT NOT NULL, PRIMARY KEY (topic, partition, offset));
CREATE TABLE IF NOT EXISTS committed (grp TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL,
                                      offset INTEGER NOT NULL, PRIMARY KEY (grp, topic, partition));
"""


class Journal:
    def __init__(self, path: Path | str):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: every append and commit is its own transaction, written before the call returns.
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def records(self) -> Iterator[tuple[str, int, str | None, CloudEvent]]:
        """Every record, in offset order per partition: (topic, partition, key, event)."""
        rows = self.db.execute("SELECT topic, partition, key, event FROM records ORDER BY topic, partition, offset")
        for topic, partition, key, event in rows:
            yield topic, partition, key, CloudEvent.from_dict(json.loads(event))

    def committed(self) -> dict[tuple[str, str, int], int]:
        return {(g, t, p): o for g, t, p, o in self.db.execute("SELECT grp, topic, partition, offset FROM committed")}

    def append(self, topic: str, partition: int, offset: int, key: str | None, event: CloudEvent) -> None:
        self.db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?)",
                        (topic, partition, offset, key, json.dumps(event.to_dict(), ensure_ascii=False)))

    def commit(self, group: str, topic: str, partition: int, offset: int) -> None:
        self.db.execute("INSERT INTO committed VALUES (?, ?, ?, ?) ON CONFLICT (grp, topic, partition) "
                        "DO UPDATE SET offset = excluded.offset", (group, topic, partition, offset))

    def close(self) -> None:
        self.db.close()
