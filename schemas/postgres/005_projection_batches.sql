-- How many batches each projection has written to Redis, advanced by one in each batch's
-- transaction (with its checkpoints) and carried in the projection's Redis marker key
-- (`schemas/redis.md`, "Marker keys"). A Redis restored from an older snapshot holds an older
-- count than the checkpoint's: the projector refuses instead of carrying on with the keys
-- written since the snapshot missing. Batches of a projector without Redis do not count.
CREATE TABLE projection_batches (
    projection text   PRIMARY KEY,
    batches    bigint NOT NULL
);
