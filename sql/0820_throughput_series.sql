-- tasker.throughput_series(hours, now): tasks created, completed and failed per hour over the last
-- p_hours hours (1-2160), one row per hour, oldest first, hours without tasks included with zeros
-- (a chart's series). Buckets are whole hours of the session's time zone; the last one is the
-- current, partial hour. Tasks are found through the created_at and completed_at indexes; nothing
-- is locked. A dashboard query, not a hot path.
CREATE OR REPLACE FUNCTION tasker.throughput_series(p_hours integer DEFAULT 24, p_now timestamptz DEFAULT NULL)
RETURNS TABLE (bucket_start timestamptz, tasks_created bigint, tasks_completed bigint, tasks_failed bigint)
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    WITH w AS (
        SELECT date_trunc('hour', coalesce(p_now, now())) AS last_bucket,
               date_trunc('hour', coalesce(p_now, now()))
                   - make_interval(hours => least(greatest(p_hours, 1), 2160) - 1) AS first_bucket
    ),
    b AS (
        SELECT g AS bucket_start FROM w, generate_series(w.first_bucket, w.last_bucket, interval '1 hour') AS g
    ),
    created AS (
        SELECT date_trunc('hour', x.created_at) AS bucket_start, count(*) AS n
          FROM tasker.tasks x, w
         WHERE x.created_at >= w.first_bucket
         GROUP BY 1
    ),
    finished AS (
        SELECT date_trunc('hour', x.completed_at) AS bucket_start,
               count(*) FILTER (WHERE x.state = 'complete') AS completed,
               count(*) FILTER (WHERE x.state = 'error') AS failed
          FROM tasker.tasks x, w
         WHERE x.completed_at >= w.first_bucket
         GROUP BY 1
    )
    SELECT b.bucket_start, coalesce(c.n, 0), coalesce(f.completed, 0), coalesce(f.failed, 0)
      FROM b
      LEFT JOIN created c ON c.bucket_start = b.bucket_start
      LEFT JOIN finished f ON f.bucket_start = b.bucket_start
     ORDER BY b.bucket_start;
$$;
COMMENT ON FUNCTION tasker.throughput_series(integer, timestamptz) IS
    'Tasks created, completed and failed per hour over the last p_hours hours (1-2160), one row per hour, oldest first, zeros included.';
