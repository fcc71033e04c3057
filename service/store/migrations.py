"""Numbered schema migrations; the store applies those above `PRAGMA user_version`, in order.

Never edit a migration that has shipped: append a new one.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: sources' state, items (unique by source+guid and by canonical URL), the alerts outbox.
    """
    CREATE TABLE sources (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        kind TEXT NOT NULL,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        polled_before INTEGER NOT NULL DEFAULT 0,
        last_poll TEXT,
        last_success TEXT,
        consecutive_errors INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        last_error_at TEXT
    );
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        guid TEXT NOT NULL,
        url TEXT NOT NULL,
        canonical_url TEXT NOT NULL,
        title TEXT NOT NULL,
        summary TEXT NOT NULL DEFAULT '',
        content TEXT NOT NULL DEFAULT '',
        published TEXT,
        seen_at TEXT NOT NULL,
        -- pending: to be processed; old: seen on a first poll, never alerted;
        -- processed: detection ran (alerts, if any, are in the outbox);
        -- duplicate: its page declared the canonical URL of an item we already had
        status TEXT NOT NULL,
        matches TEXT NOT NULL DEFAULT '[]',
        UNIQUE (source, guid)
    );
    CREATE UNIQUE INDEX items_canonical_url ON items (canonical_url);
    CREATE INDEX items_pending ON items (source, status);
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        item_id INTEGER NOT NULL REFERENCES items (id),
        channel TEXT NOT NULL,
        payload TEXT NOT NULL,
        -- pending: waiting to be posted; sent: posted; failed: will not be retried (see last_error)
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        message_ts TEXT
    );
    CREATE INDEX alerts_due ON alerts (status, next_attempt_at);
    """,
    # 2: polling state (next poll, possible gap, health) and notices without an item in the outbox.
    """
    ALTER TABLE sources ADD COLUMN next_poll_at REAL;
    ALTER TABLE sources ADD COLUMN possible_gap_at TEXT;
    -- ok | down: whether the ops channel was told this source is failing
    ALTER TABLE sources ADD COLUMN health TEXT NOT NULL DEFAULT 'ok';
    CREATE TABLE alerts_v2 (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        item_id INTEGER REFERENCES items (id),  -- NULL for a source-health notice
        channel TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT,
        message_ts TEXT
    );
    INSERT INTO alerts_v2 SELECT id, key, item_id, channel, payload, status, attempts, next_attempt_at,
        last_error, created_at, sent_at, message_ts FROM alerts;
    DROP TABLE alerts;
    ALTER TABLE alerts_v2 RENAME TO alerts;
    CREATE INDEX alerts_due ON alerts (status, next_attempt_at);
    CREATE INDEX items_source_seen ON items (source, seen_at);
    """,
    # 3: LLM briefs by content key (the same text from two outlets costs once) and tokens spent per UTC day.
    """
    CREATE TABLE llm_cache (
        key TEXT PRIMARY KEY,
        brief TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE llm_usage (
        day TEXT PRIMARY KEY,
        tokens INTEGER NOT NULL
    );
    """,
    # 4: effectively-once delivery. An alert is `sending` while its post is in flight; `attempted_at`
    # (unix time) is when the last post whose outcome we did not see began: a crash or a timeout in
    # that window leaves it set, and the outbox looks for the message in the channel's history
    # before posting again (service/deliver/outbox.py).
    """
    ALTER TABLE alerts ADD COLUMN attempted_at REAL;
    """,
    # 5: the hash of a body that failed to parse, so an unchanged broken feed is not parsed again.
    """
    ALTER TABLE sources ADD COLUMN failed_body_hash TEXT;
    """,
    # 6: stories. An alerted item joins a story (service/stories/cluster.py); a story's first alert in a
    # channel is its thread's parent there; held alerts wait in `digest_entries` for their digest;
    # `term_df` is the document frequency of terms over items seen, for clustering's IDF.
    """
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        url TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_published TEXT NOT NULL,
        merged_into INTEGER REFERENCES stories (id)
    );
    CREATE INDEX stories_recent ON stories (last_published);
    CREATE TABLE story_items (
        item_id INTEGER PRIMARY KEY REFERENCES items (id),
        story_id INTEGER NOT NULL REFERENCES stories (id),
        source TEXT NOT NULL,
        weight REAL NOT NULL,
        features TEXT,  -- JSON of cluster.Features; NULL for an item kept out of clustering
        why TEXT  -- why it joined (NULL for the story's first item)
    );
    CREATE INDEX story_items_story ON story_items (story_id);
    CREATE TABLE story_threads (
        story_id INTEGER NOT NULL REFERENCES stories (id),
        channel TEXT NOT NULL,
        parent_key TEXT NOT NULL,
        PRIMARY KEY (story_id, channel)
    );
    CREATE TABLE digest_entries (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        story TEXT NOT NULL,
        topic TEXT NOT NULL,
        title TEXT NOT NULL,
        url TEXT NOT NULL,
        source TEXT NOT NULL,
        score REAL NOT NULL,
        created_at REAL NOT NULL,
        digest_key TEXT  -- the digest that carried it; NULL while it waits
    );
    CREATE INDEX digest_entries_open ON digest_entries (channel, digest_key, created_at);
    CREATE TABLE term_df (
        term TEXT PRIMARY KEY,
        df INTEGER NOT NULL
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 7: the channel's RSS <ttl> (seconds), kept for the 304s that follow (they carry no body).
    """
    ALTER TABLE sources ADD COLUMN ttl REAL;
    """,
)
