-- tasker.step_overview: one row per step -- its state, attempts, what it waits for, when it
-- runs next and why it last failed. "ready" means the step enqueuer will dispatch it now.
DROP VIEW IF EXISTS tasker.step_overview;
CREATE VIEW tasker.step_overview AS
SELECT s.step_uuid,
       s.task_uuid,
       s.namespace,
       t.name                                    AS task_name,
       t.state                                   AS task_state,
       s.name                                    AS step_name,
       s.handler,
       s.position,
       s.state,
       s.attempts,
       s.max_attempts,
       ARRAY(SELECT p.name FROM tasker.workflow_step_edges e
               JOIN tasker.workflow_steps p ON p.step_uuid = e.from_step_uuid
              WHERE e.to_step_uuid = s.step_uuid ORDER BY p.position) AS depends_on,
       s.parents_total,
       s.parents_pending,
       (s.ready_at IS NOT NULL AND s.ready_at <= now()) AS ready,
       s.ready_at,
       s.next_retry_at,
       s.last_error ->> 'message'                AS last_error_message,
       s.last_error,
       s.results,
       s.timeout_seconds,
       s.enqueued_at,
       s.claimed_at,
       s.completed_at,
       s.completed_at - s.claimed_at             AS last_run_duration,
       s.created_at,
       s.updated_at
  FROM tasker.workflow_steps s
  JOIN tasker.tasks t ON t.task_uuid = s.task_uuid;
COMMENT ON VIEW tasker.step_overview IS
    'One row per step: state, attempts, parents and readiness (ready: the step enqueuer would dispatch it now), next retry, last error, results and timings.';
