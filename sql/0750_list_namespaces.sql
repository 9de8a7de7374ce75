-- tasker.list_namespaces(): every namespace with its worker queue, by name. Workers that serve
-- "every namespace" call this to find their queues (worker_<namespace>_queue).
CREATE OR REPLACE FUNCTION tasker.list_namespaces()
RETURNS TABLE (name text, queue_name text, created_at timestamptz)
LANGUAGE sql STABLE
SET search_path = ''
AS $$
    SELECT n.name, n.queue_name, n.created_at FROM tasker.namespaces n ORDER BY n.name;
$$;
COMMENT ON FUNCTION tasker.list_namespaces() IS
    'Every namespace with its worker queue (worker_<namespace>_queue), by name.';
