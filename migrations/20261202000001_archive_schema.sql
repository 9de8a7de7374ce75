-- Schema tasker_archive: where tasker.purge_tasks(..., p_archive => true) copies old final tasks
-- and everything hanging off them before deleting them.
--
-- Each table mirrors its tasker table column for column, in the same order, followed by
-- archived_at (when the row was copied). purge_tasks copies with `SELECT t.*, now()`, so a later
-- migration that adds a column to one of the mirrored tables must add the same column, at the
-- same position before archived_at (recreate the archive table if needed), in the same
-- migration. No foreign keys, CHECK constraints or identities: an archive takes rows as they
-- were and is pruned by hand (DELETE ... WHERE archived_at < ...) or dropped per partition of
-- time by the operator.

CREATE SCHEMA IF NOT EXISTS tasker_archive;

CREATE TABLE tasker_archive.tasks (LIKE tasker.tasks);
ALTER TABLE tasker_archive.tasks
    ADD COLUMN archived_at timestamptz NOT NULL DEFAULT now(),
    ADD PRIMARY KEY (task_uuid);
CREATE INDEX tasks_archived_at ON tasker_archive.tasks (archived_at);
CREATE INDEX tasks_completed_at ON tasker_archive.tasks (completed_at);

CREATE TABLE tasker_archive.workflow_steps (LIKE tasker.workflow_steps);
ALTER TABLE tasker_archive.workflow_steps
    ADD COLUMN archived_at timestamptz NOT NULL DEFAULT now(),
    ADD PRIMARY KEY (step_uuid);
CREATE INDEX workflow_steps_task ON tasker_archive.workflow_steps (task_uuid);

CREATE TABLE tasker_archive.workflow_step_edges (LIKE tasker.workflow_step_edges);
ALTER TABLE tasker_archive.workflow_step_edges
    ADD COLUMN archived_at timestamptz NOT NULL DEFAULT now(),
    ADD PRIMARY KEY (from_step_uuid, to_step_uuid);

CREATE TABLE tasker_archive.task_transitions (LIKE tasker.task_transitions);
ALTER TABLE tasker_archive.task_transitions
    ADD COLUMN archived_at timestamptz NOT NULL DEFAULT now(),
    ADD PRIMARY KEY (id);
CREATE INDEX task_transitions_task ON tasker_archive.task_transitions (task_uuid, id);

CREATE TABLE tasker_archive.workflow_step_transitions (LIKE tasker.workflow_step_transitions);
ALTER TABLE tasker_archive.workflow_step_transitions
    ADD COLUMN archived_at timestamptz NOT NULL DEFAULT now(),
    ADD PRIMARY KEY (id);
CREATE INDEX workflow_step_transitions_task ON tasker_archive.workflow_step_transitions (task_uuid, id);

CREATE TABLE tasker_archive.dlq_entries (LIKE tasker.dlq_entries);
ALTER TABLE tasker_archive.dlq_entries
    ADD COLUMN archived_at timestamptz NOT NULL DEFAULT now(),
    ADD PRIMARY KEY (id);
CREATE INDEX dlq_entries_task ON tasker_archive.dlq_entries (task_uuid, id);
