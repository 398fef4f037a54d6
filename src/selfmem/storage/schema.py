"""The libSQL schema as an ordered list of migrations.

Migration ``n`` moves the database from version ``n-1`` to ``n``. They are applied in one
write transaction whose first statement is a guard that the version is still the one read
before (see :data:`BOOTSTRAP`), so several processes opening the same database at once
apply each migration exactly once: the others' guards fail, and they re-read the version.
"""

from __future__ import annotations

__all__ = ["BOOTSTRAP", "CACHE_DIR", "DATABASE_FILE", "MIGRATIONS", "SCHEMA_VERSION"]

#: The files of an embedded store directory: the database, and the LMDB cache beside it.
DATABASE_FILE = "selfmem.db"
CACHE_DIR = "cache"

#: Created before any migration (idempotent): the version table, and the guard table whose
#: trigger fails any transaction that inserts a row into it. A guard statement is
#: ``INSERT INTO selfmem_guard (reason) SELECT ? WHERE <precondition broken>``: it inserts
#: nothing (and passes) while the precondition holds. One request to a server can thus
#: check a precondition and write, with no lock held across round trips.
BOOTSTRAP = (
    "CREATE TABLE IF NOT EXISTS selfmem_schema "
    "(id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS selfmem_guard (reason TEXT)",
    "CREATE TRIGGER IF NOT EXISTS selfmem_guard_fails BEFORE INSERT ON selfmem_guard "
    "BEGIN SELECT RAISE(ABORT, 'selfmem: precondition failed'); END",
)

_V1 = (
    """CREATE TABLE episodes (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        namespace TEXT NOT NULL,
        task_type TEXT NOT NULL,
        domain TEXT NOT NULL,
        language TEXT,
        outcome TEXT,
        start_time REAL NOT NULL,
        end_time REAL,
        reward REAL,
        revision INTEGER NOT NULL DEFAULT 1,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX idx_episodes_start ON episodes(namespace, start_time DESC)",
    "CREATE INDEX idx_episodes_type ON episodes(namespace, task_type, start_time DESC)",
    "CREATE INDEX idx_episodes_outcome ON episodes(namespace, outcome, start_time DESC)",
    "CREATE INDEX idx_episodes_domain ON episodes(namespace, domain, start_time DESC)",
    "CREATE INDEX idx_episodes_open ON episodes(namespace, start_time DESC) WHERE end_time IS NULL",
    """CREATE TABLE steps (
        episode_id TEXT NOT NULL,
        step_number INTEGER NOT NULL,
        tool TEXT NOT NULL,
        success INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (episode_id, step_number)
    ) WITHOUT ROWID""",
    # Contentless: the text lives in episodes/steps; the index only maps terms to episodes.seq.
    """CREATE VIRTUAL TABLE episodes_fts USING fts5(
        task_text, step_text, content='', contentless_delete=1, tokenize='unicode61'
    )""",
    "INSERT INTO episodes_fts(episodes_fts, rank) VALUES ('secure-delete', 1)",
    """CREATE TABLE patterns (
        id TEXT PRIMARY KEY,
        namespace TEXT NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        data TEXT NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (namespace, kind, key)
    )""",
    """CREATE TABLE heuristics (
        id TEXT PRIMARY KEY,
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        data TEXT NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (namespace, key)
    )""",
    """CREATE TABLE embeddings (
        owner_kind TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        namespace TEXT NOT NULL,
        model TEXT NOT NULL,
        dim INTEGER NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (owner_kind, owner_id)
    )""",
    "CREATE INDEX idx_embeddings_ns ON embeddings(namespace, owner_kind)",
)

_V2 = ("CREATE TABLE selfmem_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)",)

# The in-process retrieval index is built from these columns without parsing JSON.
_V3 = ("ALTER TABLE episodes ADD COLUMN index_row TEXT",)

# Key-value documents beside the episodes; ``path`` is the item's labels joined by U+001F.
_V4 = (
    """CREATE TABLE items (
        namespace TEXT NOT NULL,
        path TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        search_text TEXT,
        vector BLOB,
        model TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (namespace, path, key)
    ) WITHOUT ROWID""",
)

# A change log other processes poll to invalidate caches and catch up their indexes. The
# triggers write it in the same transaction as the change, with no extra round trip; only
# ids are logged, never content. The log keeps the latest 100,000 changes.
_V5 = (
    """CREATE TABLE selfmem_changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        namespace TEXT NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        revision INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TRIGGER selfmem_changes_on_finish AFTER UPDATE OF revision ON episodes
    BEGIN
        INSERT INTO selfmem_changes (namespace, kind, key, revision)
        VALUES (new.namespace, 'episode', new.id, new.revision);
    END""",
    """CREATE TRIGGER selfmem_changes_on_delete AFTER DELETE ON episodes
    BEGIN
        INSERT INTO selfmem_changes (namespace, kind, key, revision)
        VALUES (old.namespace, 'deleted', old.id, old.revision);
    END""",
    """CREATE TRIGGER selfmem_changes_on_embedding AFTER INSERT ON embeddings
    WHEN new.owner_kind = 'episode'
    BEGIN
        INSERT INTO selfmem_changes (namespace, kind, key)
        VALUES (new.namespace, 'embedding', new.owner_id);
    END""",
    """CREATE TRIGGER selfmem_changes_prune AFTER INSERT ON selfmem_changes
    WHEN new.seq % 1000 = 0
    BEGIN
        DELETE FROM selfmem_changes WHERE seq <= new.seq - 100000;
    END""",
)

# The version of each namespace's learned records: every write of patterns or heuristics
# bumps it, and a writer that learned from an older version is refused (and reloads), so
# two processes learning at once never overwrite each other's counts.
_V6 = (
    """CREATE TABLE learning_versions (
        namespace TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        writer TEXT NOT NULL
    )""",
)

# Deletes that committed recently, by a token the deleting call made up. When a delete's
# answer is lost and its retry finds nothing left to delete, the token tells "this call
# deleted it" from "it was already gone", so the caller unlearns it exactly once. Rows
# older than an hour are pruned by later deletes.
_V7 = (
    """CREATE TABLE selfmem_deletions (
        token TEXT PRIMARY KEY,
        deleted_at REAL NOT NULL
    ) WITHOUT ROWID""",
)

# v8: a namespace's episodes in the order they were stored. Reads that stream a namespace
# page by page (the retrieval index built from the store, relearning) ask for "the next rows
# after seq N"; without this index every page searched the namespace by start time and sorted
# it, so streaming it cost the square of its size.
_V8 = ("CREATE INDEX idx_episodes_seq ON episodes(namespace, seq)",)

# v9: no full-text index in the database. Retrieval ranks with the in-process index built
# from ``index_row``; the FTS5 table was written on every completion and merged on every
# delete, and nothing read it.
_V9 = ("DROP TABLE IF EXISTS episodes_fts",)

# v10: the retrieval index's rows readable from an index alone. Building the in-process
# index reads every completed episode's ``index_row`` in ``seq`` order; from the table that
# read touches every page of the episodes' JSON too (3 GB at a million episodes, 3.4 s
# when the file is not in the OS cache), from this covering index about 450 MB (1.0 s).
_V10 = (
    "CREATE INDEX idx_episodes_index_rows ON episodes(namespace, seq, id, index_row, end_time) "
    "WHERE end_time IS NOT NULL",
)

# v11: words in any script. The retrieval index's terms were runs of ASCII letters and
# digits, so "Zählbestand" was counted as "z" and "hlbestand", and a task written in Japanese
# had no terms at all. The rows of completed episodes whose text holds a character outside
# ASCII are cleared; reading the index rebuilds them from their episodes and stores them
# again (``LibSQLStore.index_rows``).
_NON_ASCII = "('*[^' || char(1) || '-' || char(127) || ']*')"
_V11 = (
    f"""UPDATE episodes SET index_row = NULL
    WHERE end_time IS NOT NULL AND index_row IS NOT NULL AND (
        data GLOB {_NON_ASCII}
        OR EXISTS (SELECT 1 FROM steps WHERE steps.episode_id = episodes.id
                   AND steps.data GLOB {_NON_ASCII})
    )""",
)

#: Each entry is the list of statements of one migration; index 0 is version 1.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    _V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9, _V10, _V11,
)  # fmt: skip
SCHEMA_VERSION = len(MIGRATIONS)
