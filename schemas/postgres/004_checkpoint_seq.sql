-- The event seq of the message at a Kafka checkpoint's position (its `seq` header), written
-- with the position. A Kafka projector resuming after that offset first checks the broker
-- still holds the same event there: a broker that lost a partition and had it re-published
-- by the relay gives the offsets to other events, and resuming by offset alone would pass
-- over the events now below the checkpoint. NULL for the log's checkpoints (the position is
-- the seq) and for rows written before this column existed (checked by offset only).
ALTER TABLE projection_checkpoints ADD COLUMN seq bigint;
