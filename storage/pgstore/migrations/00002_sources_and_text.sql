-- What the bbolt store added after the initial schema: the message a request was filed from (one
-- message, one item) and the text index of open items for likely duplicates. Both hold open work
-- only where bbolt does, so closed history costs nothing.

-- +goose Up
-- bbolt's idx_source: the source message's "<conversation>/<message>", unique.
ALTER TABLE items ADD COLUMN source_key text COLLATE "C";
CREATE UNIQUE INDEX items_by_source ON items (source_key) WHERE source_key IS NOT NULL;

-- bbolt's idx_term_docs and idx_terms: each open item's analysed text (storage/textindex), and one
-- posting per term. The document frequency and the collection's size are counted when asked, rather
-- than kept in counters every create would update, which would make the commonest terms' rows the
-- hottest in the database.
CREATE TABLE text_docs (
    item_id     bigint PRIMARY KEY,
    fingerprint bytea NOT NULL,
    len         integer NOT NULL CHECK (len >= 0),
    analyzer    integer NOT NULL
);
CREATE TABLE text_postings (
    term    text COLLATE "C" NOT NULL,
    item_id bigint NOT NULL,
    tf      integer NOT NULL CHECK (tf > 0),
    len     integer NOT NULL CHECK (len >= 0),
    PRIMARY KEY (term, item_id)
);
CREATE INDEX text_postings_by_item ON text_postings (item_id);

-- +goose Down
DROP TABLE text_postings;
DROP TABLE text_docs;
DROP INDEX items_by_source;
ALTER TABLE items DROP COLUMN source_key;
