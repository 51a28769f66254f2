-- Migration 1: the base schema.
--
-- Times are INTEGER milliseconds since the Unix epoch (UTC), supplied by the caller.
-- JSON columns hold serde_json text written by the store and are checked with json_valid.

-- Docker engines deckies run on. 'local' is the only kind for now; the row 'local' (the
-- machine Chaff runs on, default socket) always exists so lifecycle rows can name it.
CREATE TABLE hosts (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('local')),
    -- NULL means the engine's default endpoint (the local unix socket).
    docker_endpoint TEXT
);
INSERT INTO hosts (id, name, kind, docker_endpoint) VALUES ('local', 'local', 'local', NULL);

-- The desired state of each fleet: what the user designed, not what Docker runs.
CREATE TABLE fleets (
    name            TEXT PRIMARY KEY NOT NULL,
    network         TEXT NOT NULL CHECK (json_valid(network)),
    log_target      TEXT,
    mutate_interval INTEGER CHECK (mutate_interval IS NULL OR mutate_interval >= 0),
    custom_services TEXT NOT NULL CHECK (json_valid(custom_services)),
    fleet_services  TEXT NOT NULL CHECK (json_valid(fleet_services)),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- The deckies of a fleet, in the fleet's order (position). `desired` is the decky's full
-- JSON; name and ip are copies of its members, kept in columns so uniqueness is enforced.
CREATE TABLE deckies (
    fleet    TEXT NOT NULL REFERENCES fleets (name) ON DELETE CASCADE ON UPDATE CASCADE,
    position INTEGER NOT NULL CHECK (position >= 0),
    name     TEXT NOT NULL,
    ip       TEXT NOT NULL,
    desired  TEXT NOT NULL CHECK (json_valid(desired)),
    PRIMARY KEY (fleet, name),
    UNIQUE (fleet, ip),
    UNIQUE (fleet, position)
);

-- One row per operation on one decky. Rows name their decky by (fleet, decky) without a
-- foreign key: the history outlives the fleet's definition (a torn-down fleet is deleted,
-- its operations are not), and a teardown may target a decky no longer in the design.
CREATE TABLE lifecycle (
    id           TEXT PRIMARY KEY NOT NULL,
    fleet        TEXT NOT NULL,
    decky        TEXT NOT NULL,
    host         TEXT NOT NULL REFERENCES hosts (id),
    operation    TEXT NOT NULL CHECK (operation IN
                     ('deploy', 'teardown', 'mutate', 'add_service', 'remove_service', 'apply_config')),
    status       TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
    error        TEXT CHECK (error IS NULL OR length(error) <= 2000),
    started_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    completed_at INTEGER,
    -- completed exactly when terminal
    CHECK ((status IN ('succeeded', 'failed')) = (completed_at IS NOT NULL))
);

-- One open (pending or running) operation per decky, whoever writes.
CREATE UNIQUE INDEX lifecycle_one_open_per_decky
    ON lifecycle (fleet, decky) WHERE status IN ('pending', 'running');

-- Terminal rows are never reopened, whoever writes.
CREATE TRIGGER lifecycle_terminal_is_final
    BEFORE UPDATE OF status ON lifecycle
    WHEN OLD.status IN ('succeeded', 'failed') AND NEW.status IS NOT OLD.status
BEGIN
    SELECT RAISE(ABORT, 'lifecycle: terminal rows are never reopened');
END;

-- Every status change of a lifecycle row, in order. Creation is logged as NULL -> pending.
CREATE TABLE lifecycle_transitions (
    seq          INTEGER PRIMARY KEY,
    lifecycle_id TEXT NOT NULL REFERENCES lifecycle (id),
    from_status  TEXT CHECK (from_status IN ('pending', 'running', 'succeeded', 'failed')),
    to_status    TEXT NOT NULL CHECK (to_status IN ('pending', 'running', 'succeeded', 'failed')),
    at           INTEGER NOT NULL,
    error        TEXT CHECK (error IS NULL OR length(error) <= 2000),
    detail       TEXT CHECK (detail IS NULL OR length(detail) <= 2000)
);
CREATE INDEX lifecycle_transitions_by_row ON lifecycle_transitions (lifecycle_id, seq);

-- The log is append-only.
CREATE TRIGGER lifecycle_transitions_no_update
    BEFORE UPDATE ON lifecycle_transitions
BEGIN
    SELECT RAISE(ABORT, 'lifecycle_transitions is append-only');
END;
CREATE TRIGGER lifecycle_transitions_no_delete
    BEFORE DELETE ON lifecycle_transitions
BEGIN
    SELECT RAISE(ABORT, 'lifecycle_transitions is append-only');
END;
