-- tasker.performance_metrics(hours, now): throughput and outcomes over the last p_hours hours.
-- Tasks are counted by creation time (created, active) or by completion time (completed, failed,
-- cancelled); step durations are claim-to-completion of steps completed in the window. Tasks of
-- the window are found through the created_at and completed_at indexes; steps are scanned (a
-- dashboard query, not a hot path).
CREATE OR REPLACE FUNCTION tasker.performance_metrics(p_hours integer DEFAULT 24, p_now timestamptz DEFAULT NULL)
RETURNS TABLE (hours integer, tasks_created bigint, tasks_completed bigint, tasks_failed bigint,
               tasks_cancelled bigint, tasks_active bigint, completion_rate double precision,
               error_rate double precision, mean_task_duration_ms double precision,
               mean_step_duration_ms double precision, steps_completed bigint, steps_per_second double precision,
               tasks_per_hour double precision)
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    WITH w AS (SELECT coalesce(p_now, now()) - make_interval(hours => p_hours) AS since,
                      greatest(p_hours, 1) * 3600.0 AS secs),
    t AS (
        SELECT count(*) FILTER (WHERE x.created_at >= w.since) AS created,
               count(*) FILTER (WHERE x.state = 'complete' AND x.completed_at >= w.since) AS completed,
               count(*) FILTER (WHERE x.state = 'error' AND x.completed_at >= w.since) AS failed,
               count(*) FILTER (WHERE x.state = 'cancelled' AND x.completed_at >= w.since) AS cancelled,
               count(*) FILTER (WHERE x.created_at >= w.since AND x.completed_at IS NULL) AS active,
               avg(extract(epoch FROM x.completed_at - x.created_at) * 1000)
                   FILTER (WHERE x.state = 'complete' AND x.completed_at >= w.since) AS mean_ms
          FROM tasker.tasks x, w
         WHERE x.created_at >= w.since OR x.completed_at >= w.since
    ),
    s AS (
        SELECT count(*) AS completed,
               avg(extract(epoch FROM x.completed_at - x.claimed_at) * 1000) AS mean_ms
          FROM tasker.workflow_steps x, w
         WHERE x.state = 'complete' AND x.completed_at >= w.since AND x.claimed_at IS NOT NULL
    )
    SELECT p_hours, t.created, t.completed, t.failed, t.cancelled, t.active,
           CASE WHEN t.completed + t.failed = 0 THEN 0 ELSE t.completed::float8 / (t.completed + t.failed) END,
           CASE WHEN t.completed + t.failed = 0 THEN 0 ELSE t.failed::float8 / (t.completed + t.failed) END,
           t.mean_ms::float8, s.mean_ms::float8, s.completed,
           s.completed / w.secs, t.completed / (w.secs / 3600.0)
      FROM t, s, w;
$$;
COMMENT ON FUNCTION tasker.performance_metrics(integer, timestamptz) IS
    'Throughput and outcomes over the last p_hours hours, in one row.';

-- tasker.slowest_steps(limit, hours, now) and tasker.slowest_templates(limit, hours, now): where time goes. The slowest step names (by mean
-- claim-to-completion time, with p95 and the share that ended in error) and the slowest templates
-- (by mean task duration), over tasks created in the last p_hours hours.
CREATE OR REPLACE FUNCTION tasker.slowest_steps(p_limit integer DEFAULT 10, p_hours integer DEFAULT 24, p_now timestamptz DEFAULT NULL)
RETURNS TABLE (namespace text, task_name text, step_name text, executions bigint, mean_ms double precision,
               p95_ms double precision, error_rate double precision)
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    SELECT s.namespace, t.name, s.name,
           count(*) FILTER (WHERE s.state = 'complete' AND s.claimed_at IS NOT NULL),
           coalesce(avg(extract(epoch FROM s.completed_at - s.claimed_at) * 1000)
               FILTER (WHERE s.state = 'complete' AND s.claimed_at IS NOT NULL), 0)::float8,
           coalesce(percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM s.completed_at - s.claimed_at) * 1000)
               FILTER (WHERE s.state = 'complete' AND s.claimed_at IS NOT NULL), 0)::float8,
           (count(*) FILTER (WHERE s.state = 'error'))::float8 / count(*)
      FROM tasker.tasks t
      JOIN tasker.workflow_steps s ON s.task_uuid = t.task_uuid
     WHERE t.created_at >= coalesce(p_now, now()) - make_interval(hours => p_hours)
     GROUP BY s.namespace, t.name, s.name
     ORDER BY 5 DESC, 4 DESC
     LIMIT greatest(p_limit, 0);
$$;
COMMENT ON FUNCTION tasker.slowest_steps(integer, integer, timestamptz) IS
    'The slowest steps (by namespace, template and step name) of tasks created in the last p_hours hours: mean and p95 claim-to-completion time and error rate, slowest first.';

CREATE OR REPLACE FUNCTION tasker.slowest_templates(p_limit integer DEFAULT 10, p_hours integer DEFAULT 24, p_now timestamptz DEFAULT NULL)
RETURNS TABLE (namespace text, name text, version text, tasks bigint, mean_ms double precision, p95_ms double precision)
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    SELECT t.namespace, t.name, t.version, count(*),
           avg(extract(epoch FROM t.completed_at - t.created_at) * 1000)::float8,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM t.completed_at - t.created_at) * 1000)::float8
      FROM tasker.tasks t
     WHERE t.state = 'complete' AND t.created_at >= coalesce(p_now, now()) - make_interval(hours => p_hours)
     GROUP BY t.namespace, t.name, t.version
     ORDER BY 5 DESC
     LIMIT greatest(p_limit, 0);
$$;
COMMENT ON FUNCTION tasker.slowest_templates(integer, integer, timestamptz) IS
    'The slowest templates of complete tasks created in the last p_hours hours: mean and p95 task duration, slowest first.';
