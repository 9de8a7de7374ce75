-- tasker.task_overview: one row per task -- what it is, where it stands, what went wrong.
-- Step counts per state are computed for the rows selected (filter by task_uuid, state or
-- namespace for a cheap look-up).
DROP VIEW IF EXISTS tasker.task_overview;
CREATE VIEW tasker.task_overview AS
SELECT t.task_uuid,
       t.namespace,
       t.name,
       t.version,
       t.state,
       t.priority,
       t.tags,
       t.initiator,
       t.source_system,
       t.reason,
       t.idempotency_key,
       t.correlation_id,
       t.context,
       t.step_count                        AS steps_total,
       c.pending                           AS steps_pending,
       c.enqueued                          AS steps_enqueued,
       c.in_progress                       AS steps_in_progress,
       c.waiting_for_retry                 AS steps_waiting_for_retry,
       c.complete                          AS steps_complete,
       c.error                             AS steps_error,
       c.cancelled                         AS steps_cancelled,
       c.resolved_manually                 AS steps_resolved_manually,
       round(100.0 * (c.complete + c.resolved_manually) / t.step_count, 1) AS completion_pct,
       now() - t.created_at                AS age,
       t.completed_at - t.created_at       AS duration,
       t.last_error ->> 'message'          AS last_error_message,
       t.last_error,
       t.created_at,
       t.updated_at,
       t.completed_at
  FROM tasker.tasks t
 CROSS JOIN LATERAL (
       SELECT count(*) FILTER (WHERE s.state = 'pending')           AS pending,
              count(*) FILTER (WHERE s.state = 'enqueued')          AS enqueued,
              count(*) FILTER (WHERE s.state = 'in_progress')       AS in_progress,
              count(*) FILTER (WHERE s.state = 'waiting_for_retry') AS waiting_for_retry,
              count(*) FILTER (WHERE s.state = 'complete')          AS complete,
              count(*) FILTER (WHERE s.state = 'error')             AS error,
              count(*) FILTER (WHERE s.state = 'cancelled')         AS cancelled,
              count(*) FILTER (WHERE s.state = 'resolved_manually') AS resolved_manually
         FROM tasker.workflow_steps s
        WHERE s.task_uuid = t.task_uuid) c;
COMMENT ON VIEW tasker.task_overview IS
    'One row per task: identity, state, options, step counts per state, completion percentage, age, duration and last error. Filter by task_uuid, state or namespace.';
