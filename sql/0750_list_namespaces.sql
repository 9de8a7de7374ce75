-- tasker.list_namespaces(): every namespace with its worker queue, by name. Workers that serve
-- "every namespace" call this to find their queues (worker_<namespace>_queue).
-- Callable by the tasker_worker role (SECURITY DEFINER): a worker role sees only the namespaces
-- tasker.worker_namespaces allows it; the owning role and superusers see all.
CREATE OR REPLACE FUNCTION tasker.list_namespaces()
RETURNS TABLE (name text, queue_name text, created_at timestamptz)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT n.name, n.queue_name, n.created_at FROM tasker.namespaces n
     WHERE tasker._worker_may_serve(n.name)
     ORDER BY n.name;
$$;
COMMENT ON FUNCTION tasker.list_namespaces() IS
    'Every namespace with its worker queue (worker_<namespace>_queue), by name; for a worker role (tasker_worker), only the namespaces it may serve.';
