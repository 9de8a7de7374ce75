-- Step transitions as HOT updates: no index of tasker.workflow_steps names a column that the
-- transitions of a step's ordinary life change (state, claimed_at, updated_at, attempts,
-- results, dispatch_msg_id, parents_pending), and every heap page keeps half its space free for
-- the new versions of its rows.
--
-- Every step row is rewritten three to five times (enqueue, claim, result, its children's
-- counters). With state in the predicates of three partial indexes, none of those updates could
-- be HOT: each one inserted a new entry into every index whose predicate the new version met
-- (primary key, the (task_uuid, name) key, and the in-flight indexes on enqueue and claim),
-- and left as many dead entries for vacuum. A HOT update writes the heap page only, and page
-- pruning reclaims the old version without vacuum.
--
-- What the three indexes answered is now answered through the task:
-- * workflow_steps_task_in_flight (does a task have a step enqueued or in progress? asked on
--   every acknowledgement): the task's own steps through workflow_steps_name_unique
--   (task_uuid, name), a handful of rows per task.
-- * workflow_steps_in_flight (the staleness sweep's candidates): the steps of tasks in a
--   non-terminal state (tasks_state), since a step in flight always belongs to such a task
--   (cancelling a task cancels its steps in flight; a task ends in error, complete or resolved
--   only once nothing of it is in flight).
-- * workflow_steps_failed (tasker.retry_failed_steps): the failed steps of the tasks in error or
--   not yet final, likewise through tasks_state.
-- The ready index (ready_at) stays: a step's ready_at changes only when it waits (pending with
-- its parents done, or waiting_for_retry), off the ordinary path.
-- fillfactor applies to pages written from now on; existing pages fill as before.
DROP INDEX tasker.workflow_steps_in_flight;
DROP INDEX tasker.workflow_steps_task_in_flight;
DROP INDEX tasker.workflow_steps_failed;
ALTER TABLE tasker.workflow_steps SET (fillfactor = 50);
