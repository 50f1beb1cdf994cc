-- The initial PostgreSQL schema. It holds what the bbolt file holds (see storage/doc.go), as tables
-- with real columns, so that an operator can read it with psql. Conventions:
--   * a zero Go time is NULL; times are stored to the microsecond (PostgreSQL's precision);
--   * a zero domain.Date is NULL;
--   * user, stage, lane and state names are COLLATE "C", so index order is byte order, as in bbolt;
--   * open items are those with resolution = '': every "open" index is partial on that predicate, so
--     reading open work never touches closed history;
--   * items.rec is the whole item in the bbolt store's record encoding, written with the columns.
--     Reads decode it instead of thirty columns: PostgreSQL sends one bytea far faster than thirty
--     typed values, and the digest reads every open item (docs/benchmarks.md). The columns stay the
--     truth for SQL, constraints and indexes; a trigger refuses a change of columns without rec, so
--     the two cannot drift apart through a hand-written UPDATE, and workbot check compares them.

-- +goose Up
CREATE SEQUENCE item_ids AS bigint;
CREATE SEQUENCE handoff_ids AS bigint;
CREATE SEQUENCE event_seq AS bigint;
CREATE SEQUENCE outbox_ids AS bigint;

CREATE TABLE items (
    id               bigint PRIMARY KEY CHECK (id > 0),
    key              text NOT NULL,
    title            text NOT NULL,
    details          text NOT NULL,
    kind             text NOT NULL,
    requester        text COLLATE "C" NOT NULL CHECK (octet_length(requester) <= 1024),
    team             text NOT NULL,
    value            integer NOT NULL,
    urgency          integer NOT NULL,
    size             integer NOT NULL,
    due              date,
    stage            text COLLATE "C" NOT NULL CHECK (octet_length(stage) <= 1024),
    assignee         text COLLATE "C" NOT NULL CHECK (octet_length(assignee) <= 1024),
    blocked_reason   text NOT NULL,
    blocked_at       timestamptz,
    depends_on       bigint[] NOT NULL,
    depends_since    timestamptz,
    pin              integer NOT NULL,
    triaged          boolean NOT NULL,
    resolution       text NOT NULL CHECK (resolution IN ('', 'done', 'rejected', 'duplicate')),
    duplicate_of     bigint NOT NULL CHECK (duplicate_of >= 0),
    pending_handoff  bigint NOT NULL CHECK (pending_handoff >= 0),
    nudged_at        timestamptz,
    snoozed_until    timestamptz,
    created_at       timestamptz,
    stage_entered_at timestamptz,
    last_activity_at timestamptz,
    done_at          timestamptz,
    updated_at       timestamptz,
    version          bigint NOT NULL CHECK (version >= 0),
    rec              bytea NOT NULL
);
-- +goose StatementBegin
CREATE FUNCTION items_keep_rec() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.rec = OLD.rec AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'item % changed without its record: items are changed through workbot', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER items_keep_rec BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION items_keep_rec();
-- bbolt's idx_open, idx_assignee and idx_stage: open items only.
CREATE INDEX items_open ON items (id) WHERE resolution = '';
CREATE INDEX items_open_by_assignee ON items (assignee, id) WHERE resolution = '';
CREATE INDEX items_open_by_stage ON items (stage, id) WHERE resolution = '';
-- bbolt's idx_requester: every item.
CREATE INDEX items_by_requester ON items (requester, id);

CREATE TABLE handoffs (
    id           bigint PRIMARY KEY CHECK (id > 0),
    item_id      bigint NOT NULL CHECK (item_id >= 0),
    from_user    text NOT NULL,
    to_user      text NOT NULL,
    to_team      text NOT NULL,
    note_done    text NOT NULL,
    note_next    text NOT NULL,
    note_links   text NOT NULL,
    next_stage   text NOT NULL,
    status       text NOT NULL CHECK (status IN ('awaiting_approval', 'pending', 'accepted', 'declined', 'cancelled', 'rejected')),
    requested_by text NOT NULL,
    requested_at timestamptz,
    approved_by  text NOT NULL,
    approved_at  timestamptz,
    decided_by   text NOT NULL,
    decided_at   timestamptz,
    reason       text NOT NULL,
    escalated_at timestamptz
);
-- bbolt's idx_handoff_pending.
CREATE INDEX handoffs_pending ON handoffs (id) WHERE status IN ('awaiting_approval', 'pending');

CREATE TABLE people (
    id                  text COLLATE "C" PRIMARY KEY CHECK (id <> '' AND octet_length(id) <= 1024),
    team                text NOT NULL,
    capacity            integer NOT NULL,
    capacity_set        boolean NOT NULL,
    away_until          date,
    nudges_off          boolean NOT NULL,
    personal_digest_off boolean NOT NULL,
    updated_at          timestamptz
);

-- Append-only. changes is a JSON array of {"field","before","after"} objects, in order.
CREATE TABLE events (
    seq        bigint PRIMARY KEY CHECK (seq > 0),
    at         timestamptz,
    actor      text NOT NULL,
    type       text NOT NULL,
    item_id    bigint NOT NULL CHECK (item_id >= 0),
    subject    text NOT NULL,
    handoff_id bigint NOT NULL CHECK (handoff_id >= 0),
    changes    jsonb NOT NULL CHECK (jsonb_typeof(changes) = 'array'),
    note       text NOT NULL
);
-- bbolt's events_by_time (the zero time, NULL, sorts first as it does there) and events_by_item.
CREATE INDEX events_by_time ON events (at NULLS FIRST, seq);
CREATE INDEX events_by_item ON events (item_id, seq) WHERE item_id <> 0;

-- bbolt's kv/<bucket>/<key>.
CREATE TABLE bot_state (
    bucket text COLLATE "C" NOT NULL CHECK (octet_length(bucket) BETWEEN 1 AND 1024),
    key    text COLLATE "C" NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 1024),
    value  bytea NOT NULL,
    PRIMARY KEY (bucket, key)
);

-- The outbox. state: 0 pending, 1 delivered, 2 failed (domain.OutboxState). A claim is a lease:
-- claimed_by holds the entry until claimed_until (the database's clock), so a replica that dies
-- releases its claims when their leases run out.
CREATE TABLE outbox (
    id             bigint PRIMARY KEY CHECK (id > 0),
    kind           text NOT NULL CHECK (kind <> '' AND octet_length(kind) <= 64),
    lane_key       text COLLATE "C" NOT NULL CHECK (octet_length(lane_key) <= 255),
    channel        text COLLATE "C" NOT NULL CHECK (octet_length(channel) <= 255),
    at             timestamptz,
    payload        bytea NOT NULL,
    state          smallint NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2)),
    attempted_at   timestamptz,
    attempts       integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    result_channel text NOT NULL DEFAULT '',
    result_ts      text NOT NULL DEFAULT '',
    result_error   text NOT NULL DEFAULT '',
    result_at      timestamptz,
    claimed_by     text,
    claimed_until  timestamptz,
    CHECK ((claimed_by IS NULL) = (claimed_until IS NULL)),
    CHECK (state = 0 OR claimed_by IS NULL)
);
-- bbolt's outbox_pending: the unfinished entries, and each of their lanes.
CREATE INDEX outbox_unfinished ON outbox (id) WHERE state = 0;
CREATE INDEX outbox_unfinished_by_key ON outbox (lane_key, id) WHERE state = 0 AND lane_key <> '';
CREATE INDEX outbox_unfinished_by_channel ON outbox (channel, id) WHERE state = 0 AND channel <> '';

-- Replicas: Slack event IDs already handled (SeenEvent), and the row Ping writes.
CREATE TABLE seen_events (
    event_id text PRIMARY KEY,
    seen_at  timestamptz NOT NULL
);
CREATE INDEX seen_events_by_time ON seen_events (seen_at);

CREATE TABLE ping (
    id smallint PRIMARY KEY CHECK (id = 1),
    at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE ping;
DROP TABLE seen_events;
DROP TABLE outbox;
DROP TABLE bot_state;
DROP TABLE events;
DROP TABLE people;
DROP TABLE handoffs;
DROP TABLE items;
DROP FUNCTION items_keep_rec();
DROP SEQUENCE outbox_ids;
DROP SEQUENCE event_seq;
DROP SEQUENCE handoff_ids;
DROP SEQUENCE item_ids;
