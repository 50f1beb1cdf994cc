-- The reads the bbolt store keeps aggregates for (schema 5 there) are answered here by queries over
-- indexes: counters updated by every write would turn the commonest stages' rows into the hottest
-- lock in the database. Closed items by the time they closed, for the digest's flow figures, and
-- events by type and time, for its counts.

-- +goose Up
CREATE INDEX items_closed_by_done ON items (done_at, id) WHERE resolution <> '';
CREATE INDEX events_by_type_time ON events (type, at);

-- +goose Down
DROP INDEX events_by_type_time;
DROP INDEX items_closed_by_done;
