-- Projection bookkeeping: checkpoints and poison events.
-- Applied by `tickfold project migrate` into the target schema (search_path is set to it;
-- no name here is schema-qualified, so replays can build shadow schemas side by side).

-- How far each projection got in each source partition. Written in the same transaction
-- as the rows it covers; `position` only moves forward.
CREATE TABLE projection_checkpoints (
    projection text   NOT NULL,
    source     text   NOT NULL,
    partition  int    NOT NULL,
    position   bigint NOT NULL,
    PRIMARY KEY (projection, source, partition)
);

-- Events a projection could not apply. The reason depends only on the event, so a
-- re-delivered poison event finds its row already there (ON CONFLICT DO NOTHING).
CREATE TABLE projection_rejects (
    projection text   NOT NULL,
    event_id   text   NOT NULL,
    seq        bigint NOT NULL,
    event_type text   NOT NULL,
    reason     text   NOT NULL,
    PRIMARY KEY (projection, event_id)
);
