-- tasker.dlq_overview: the dead letter queue dashboard -- one row per entry, newest first when
-- ordered by created_at DESC, with the task's current state (an entry marked retried whose task
-- is complete again is a recovered failure).
DROP VIEW IF EXISTS tasker.dlq_overview;
CREATE VIEW tasker.dlq_overview AS
SELECT d.id,
       d.task_uuid,
       t.namespace,
       t.name,
       t.version,
       d.task_state                  AS state_at_entry,
       t.state                       AS task_state_now,
       d.reason,
       d.resolution_status,
       d.resolution_notes,
       d.resolved_by,
       d.snapshot,
       ARRAY(SELECT x ->> 'name' FROM jsonb_array_elements(d.snapshot -> 'steps') x
              WHERE x ->> 'state' = 'error') AS failed_steps,
       now() - d.created_at          AS age,
       d.created_at,
       d.updated_at,
       d.resolved_at
  FROM tasker.dlq_entries d
  JOIN tasker.tasks t ON t.task_uuid = d.task_uuid;
COMMENT ON VIEW tasker.dlq_overview IS
    'The dead letter queue: one row per entry with the task''s state then and now, the reason, the investigation and the snapshot.';
