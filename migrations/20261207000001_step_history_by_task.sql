-- A step's history row costs one index entry less and no foreign-key check.
--
-- Every state change of a step appends a tasker.workflow_step_transitions row: three per step on
-- the hot path (enqueue, claim, complete). Each row wrote three index entries (the primary key,
-- (task_uuid, xid) and (step_uuid, id)) and ran a foreign-key check against workflow_steps.
-- Every reader of the history already knows the step's task: the task's history and a stream's
-- follow-up read through (task_uuid, xid), and one step's history (tasker.step_transitions) now
-- reads through the same index, filtered by step (a task's history holds a few rows per step).
-- So the (step_uuid, id) index is dropped, and with it the foreign key to workflow_steps, whose
-- ON DELETE CASCADE would need that index to find a deleted step's rows: history rows are
-- written only by tasker.transition_steps (for a step it has just locked and updated) and
-- removed only by tasker.purge_tasks, which deletes a task's history before its steps.
-- Measured in docs/benchmarks.md (work per step).
ALTER TABLE tasker.workflow_step_transitions DROP CONSTRAINT workflow_step_transitions_step_uuid_fkey;
DROP INDEX tasker.workflow_step_transitions_step;
