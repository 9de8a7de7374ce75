-- Task creation inserts a whole batch of requests with one statement per table.
--
-- tasker.task_request is a request tasker._check_task_request has accepted: the template it names,
-- the task's id and every column of the task row, so that tasker._insert_tasks can insert the
-- tasks of a batch, their state paths, steps, history and edges set by set (one statement each
-- for the whole batch instead of one per request). tasker._insert_task, which checked and
-- inserted one request, is replaced by the two (sql/0320_create_task.sql). Measured in
-- docs/benchmarks.md.
CREATE TYPE tasker.task_request AS (
    ordinality     integer,
    task_uuid      uuid,
    template_uuid  uuid,
    namespace      text,
    name           text,
    version        text,
    context        jsonb,
    options        jsonb,
    priority       integer,
    tags           text[],
    request_hash   text,
    step_count     integer
);
COMMENT ON TYPE tasker.task_request IS
    'A task request tasker._check_task_request accepted: what tasker._insert_tasks inserts.';

DROP FUNCTION IF EXISTS tasker._insert_task(text, text, text, jsonb, jsonb);
