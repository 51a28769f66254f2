-- Migration 3: what the sensors saw, and where each container's log was read up to.
--
-- One row per line a service container wrote on stdout. `docker_ts` is the nanosecond
-- timestamp Docker's log gave the line; `seq` numbers the lines of one container that share
-- a docker_ts (0, 1, ...) in log order. (container, docker_ts, seq) names a line for good:
-- re-reading a log from any earlier point numbers the same lines the same way, so ingesting
-- a line twice (a resume after a crash, two processes following one container) is ignored.
--
-- `ts` (milliseconds) is the sensor's own time of the event; a malformed line has none, and
-- gets Docker's. Containers share the host's clock, so both are the same clock. `kind` is
-- the sensor's kind, or 'malformed' for a line that is not a sensor event (not JSON, not an
-- object, or without v/ts/kind/service); `raw` is the line as read, always. `data` is the
-- event as JSON for SQL (`json_extract(data, '$.username')`): computed from `raw` on read,
-- stored nowhere twice; NULL for malformed lines.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    container TEXT NOT NULL,
    docker_ts INTEGER NOT NULL,
    seq       INTEGER NOT NULL CHECK (seq >= 0),
    fleet     TEXT NOT NULL,
    decky     TEXT NOT NULL,
    service   TEXT NOT NULL,
    kind      TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    src_ip    TEXT,
    dst_port  INTEGER CHECK (dst_port IS NULL OR dst_port BETWEEN 0 AND 65535),
    raw       TEXT NOT NULL,
    data      TEXT GENERATED ALWAYS AS (CASE WHEN kind <> 'malformed' THEN json(raw) END) VIRTUAL,
    UNIQUE (container, docker_ts, seq)
);
-- `since` filters and age retention; per-decky and per-kind views (the malformed count).
CREATE INDEX events_by_ts ON events (ts);
CREATE INDEX events_by_decky ON events (decky, id);
CREATE INDEX events_by_kind ON events (kind, id);

-- Per container: the line last ingested, (docker_ts, seq). A reader resumes from the start of
-- that second (Docker's `since` has whole seconds) and skips every line up to and including
-- it. Moved in the same transaction as the lines, never backwards.
CREATE TABLE event_cursors (
    container  TEXT PRIMARY KEY NOT NULL,
    docker_ts  INTEGER NOT NULL,
    seq        INTEGER NOT NULL CHECK (seq >= 0),
    updated_at INTEGER NOT NULL
);
