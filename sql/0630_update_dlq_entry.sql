-- tasker.update_dlq_entry(id, status, notes, resolved_by): records an investigation of a DLQ entry.
--
-- status is one of pending, investigating, resolved, retried, discarded (else TK004); notes, when
-- given, are appended to the entry's notes; resolved_at is set when the status becomes resolved,
-- retried or discarded and cleared otherwise. Unknown id: TK002. Returns the updated entry.
CREATE OR REPLACE FUNCTION tasker.update_dlq_entry(
    p_id bigint, p_status text DEFAULT NULL, p_notes text DEFAULT NULL, p_resolved_by text DEFAULT NULL)
RETURNS tasker.dlq_entries
LANGUAGE plpgsql
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_entry tasker.dlq_entries;
BEGIN
    IF p_status IS NOT NULL AND p_status NOT IN ('pending', 'investigating', 'resolved', 'retried', 'discarded') THEN
        RAISE EXCEPTION USING ERRCODE = 'TK004',
            MESSAGE = format('unknown DLQ status ''%s''', p_status),
            HINT = 'statuses are pending, investigating, resolved, retried, discarded';
    END IF;
    UPDATE tasker.dlq_entries d
       SET resolution_status = coalesce(p_status, d.resolution_status),
           resolution_notes = CASE WHEN p_notes IS NULL THEN d.resolution_notes
                                   ELSE coalesce(d.resolution_notes || E'\n', '') || p_notes END,
           resolved_by = coalesce(p_resolved_by, d.resolved_by),
           resolved_at = CASE WHEN coalesce(p_status, d.resolution_status) IN ('resolved', 'retried', 'discarded')
                              THEN coalesce(d.resolved_at, now()) END,
           updated_at = now()
     WHERE d.id = p_id
    RETURNING d.* INTO v_entry;
    IF v_entry.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TK002', MESSAGE = format('DLQ entry %s not found', p_id);
    END IF;
    RETURN v_entry;
END;
$$;
COMMENT ON FUNCTION tasker.update_dlq_entry(bigint, text, text, text) IS
    'Records an investigation of a DLQ entry: status (TK004 if unknown), notes appended, resolved_by; the task is not touched. TK002 unknown id. Returns the updated entry.';
