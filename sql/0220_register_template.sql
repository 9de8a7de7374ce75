-- tasker.register_template(definition): validates and stores a task template.
--
-- Guarantees: the definition is normalized by tasker.normalize_template (TK003 on any problem,
-- nothing written); the namespace is created on first use together with its worker queue
-- worker_<namespace>_queue, which gets Tasker's autovacuum settings (tasker._tune_queue_table)
-- and its own compiled queue statements (tasker._compile_queue_statements);
-- (namespace, name, version) is unique: registering the same triple again replaces the
-- definition (tasks already created keep the steps they were created with) and keeps the
-- template_uuid. Concurrent registrations of one triple are serialized by the unique key.
-- Returns the template_uuid.
CREATE OR REPLACE FUNCTION tasker.register_template(p_definition jsonb)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_def   jsonb := tasker.normalize_template(p_definition);
    v_ns    text := v_def ->> 'namespace';
    v_queue text := 'worker_' || (v_def ->> 'namespace') || '_queue';
    v_uuid  uuid;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM tasker.namespaces n WHERE n.name = v_ns) THEN
        PERFORM pgmq.create(v_queue);
        PERFORM tasker._tune_queue_table(v_queue);
        INSERT INTO tasker.namespaces (name, queue_name) VALUES (v_ns, v_queue)
        ON CONFLICT (name) DO NOTHING;
        PERFORM tasker._compile_queue_statements();
    END IF;

    INSERT INTO tasker.task_templates AS t (template_uuid, namespace, name, version, description, definition)
    VALUES (tasker.uuid_v7(), v_ns, v_def ->> 'name', v_def ->> 'version', v_def ->> 'description', v_def)
    ON CONFLICT (namespace, name, version) DO UPDATE
       SET definition = EXCLUDED.definition,
           description = EXCLUDED.description,
           updated_at = CASE WHEN t.definition IS DISTINCT FROM EXCLUDED.definition THEN now() ELSE t.updated_at END
    RETURNING t.template_uuid INTO v_uuid;
    RETURN v_uuid;
END;
$$;
COMMENT ON FUNCTION tasker.register_template(jsonb) IS
    'Validates (TK003, nothing written) and stores a task template; creates the namespace and its worker queue on first use; registering the same (namespace, name, version) again replaces the definition and keeps the template_uuid. Returns the template_uuid.';
