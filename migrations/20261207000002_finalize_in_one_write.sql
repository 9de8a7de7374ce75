-- The finalizer clears a task's finalization flag in the same row write as the task's move
-- (one write of the tasks row per finalized task instead of two). tasker._move_task and
-- tasker._evaluate_task take a trailing p_finalized argument for it; a function's argument list
-- is part of its identity, so the old versions are dropped here, once, and
-- sql/0100_transition_tasks.sql and sql/0500_evaluate_task.sql create the new ones. Existing
-- calls keep working: the new argument has a default (PL/pgSQL bodies resolve calls when run).
DROP FUNCTION IF EXISTS tasker._move_task(uuid, text[], jsonb, timestamptz);
DROP FUNCTION IF EXISTS tasker._evaluate_task(uuid, timestamptz);
