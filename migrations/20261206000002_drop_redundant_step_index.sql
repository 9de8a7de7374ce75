-- tasker.workflow_steps_task (task_uuid, state) is dropped: every look-up of a task's steps is
-- served as well by the unique index workflow_steps_name_unique (task_uuid, name), whose leading
-- column is the same, and a task has few steps to filter by state. The dropped index cost one
-- index insert on every step row write, since every state change wrote a new entry there
-- (docs/benchmarks.md, "Index writes").
DROP INDEX IF EXISTS tasker.workflow_steps_task;
