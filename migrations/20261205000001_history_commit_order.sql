-- History rows carry the id of the transaction that wrote them, so that a follower can read
-- what became visible since it last looked, in commit order (docs/sql-api.md,
-- tasker.task_history_after).
--
-- History ids come from sequences and are handed out in insertion order: a row with a lower id
-- can commit after one with a higher id, so "id > last seen" misses changes. The writing
-- transaction's id (xid8, never wraps) compared against the reader's previous snapshot does not:
-- a row is new to the reader exactly when its transaction was not visible in that snapshot.
--
-- The column is added without a default first (no table rewrite: rows written before this
-- migration keep NULL, meaning "committed before any follower's snapshot"), then given its
-- default for new rows. The per-task history indexes move from (task_uuid, id) to
-- (task_uuid, xid): a follower's read scans only the transactions since its snapshot's xmin,
-- and the whole-history reads of one task still find their rows through the same index. The
-- number of index writes per history row is unchanged.
ALTER TABLE tasker.task_transitions ADD COLUMN xid xid8;
ALTER TABLE tasker.task_transitions ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
ALTER TABLE tasker.workflow_step_transitions ADD COLUMN xid xid8;
ALTER TABLE tasker.workflow_step_transitions ALTER COLUMN xid SET DEFAULT pg_current_xact_id();

DROP INDEX tasker.task_transitions_task;
CREATE INDEX task_transitions_task ON tasker.task_transitions (task_uuid, xid);
DROP INDEX tasker.workflow_step_transitions_task;
CREATE INDEX workflow_step_transitions_task ON tasker.workflow_step_transitions (task_uuid, xid);

-- The archive keeps the column too (tasker.purge_tasks copies history rows as they are).
ALTER TABLE tasker_archive.task_transitions ADD COLUMN xid xid8;
ALTER TABLE tasker_archive.workflow_step_transitions ADD COLUMN xid xid8;
