-- tasker.json_schema_errors(schema, doc, path): validates a JSON document against the subset of
-- JSON Schema that task templates use for input_schema.
--
-- Supported keywords: type (a name or a list), enum, const, required, properties,
-- additionalProperties (boolean or schema), items (schema), minItems, maxItems, minLength,
-- maxLength, pattern, minimum, maximum. Unknown keywords are ignored, as JSON Schema does.
-- Guarantees: pure (reads and writes nothing); returns one message per violation, each starting
-- with the JSON path of the offending value ('$.customer.email: ...'); an empty array means valid.
CREATE OR REPLACE FUNCTION tasker.json_schema_errors(p_schema jsonb, p_doc jsonb, p_path text DEFAULT '$')
RETURNS text[]
LANGUAGE plpgsql IMMUTABLE
SET search_path = ''
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
SET jit = off
AS $$
DECLARE
    v_errors text[] := '{}'::text[];
    v_types  text[];
    v_type   text := jsonb_typeof(p_doc);
    v_ok     boolean;
    v_key    text;
    v_sub    jsonb;
    v_elem   jsonb;
    v_idx    bigint;
BEGIN
    IF p_schema IS NULL OR jsonb_typeof(p_schema) <> 'object' THEN
        RETURN v_errors;
    END IF;

    IF p_schema ? 'type' THEN
        v_types := CASE jsonb_typeof(p_schema -> 'type')
            WHEN 'array' THEN ARRAY(SELECT jsonb_array_elements_text(p_schema -> 'type'))
            ELSE ARRAY[p_schema ->> 'type'] END;
        v_ok := v_type = ANY (v_types)
             OR (v_type = 'number' AND 'integer' = ANY (v_types) AND (p_doc #>> '{}')::numeric % 1 = 0);
        IF NOT v_ok THEN
            RETURN array_append(v_errors, format('%s: expected %s, got %s', p_path, array_to_string(v_types, ' or '), v_type));
        END IF;
    END IF;

    IF p_schema ? 'enum' AND NOT (p_schema -> 'enum') @> jsonb_build_array(p_doc) THEN
        v_errors := array_append(v_errors, format('%s: must be one of %s', p_path, p_schema -> 'enum'));
    END IF;
    IF p_schema ? 'const' AND p_schema -> 'const' <> p_doc THEN
        v_errors := array_append(v_errors, format('%s: must equal %s', p_path, p_schema -> 'const'));
    END IF;

    IF v_type = 'object' THEN
        IF jsonb_typeof(p_schema -> 'required') = 'array' THEN
            FOR v_key IN SELECT jsonb_array_elements_text(p_schema -> 'required') LOOP
                IF NOT p_doc ? v_key THEN
                    v_errors := array_append(v_errors, format('%s: missing required property ''%s''', p_path, v_key));
                END IF;
            END LOOP;
        END IF;
        FOR v_key, v_elem IN SELECT e.key, e.value FROM jsonb_each(p_doc) e LOOP
            v_sub := p_schema -> 'properties' -> v_key;
            IF v_sub IS NOT NULL THEN
                v_errors := v_errors || tasker.json_schema_errors(v_sub, v_elem, p_path || '.' || v_key);
            ELSIF p_schema -> 'additionalProperties' = 'false'::jsonb THEN
                v_errors := array_append(v_errors, format('%s: unexpected property ''%s''', p_path, v_key));
            ELSIF jsonb_typeof(p_schema -> 'additionalProperties') = 'object' THEN
                v_errors := v_errors || tasker.json_schema_errors(p_schema -> 'additionalProperties', v_elem, p_path || '.' || v_key);
            END IF;
        END LOOP;
    ELSIF v_type = 'array' THEN
        IF p_schema ? 'minItems' AND jsonb_array_length(p_doc) < (p_schema ->> 'minItems')::integer THEN
            v_errors := array_append(v_errors, format('%s: expected at least %s items', p_path, p_schema ->> 'minItems'));
        END IF;
        IF p_schema ? 'maxItems' AND jsonb_array_length(p_doc) > (p_schema ->> 'maxItems')::integer THEN
            v_errors := array_append(v_errors, format('%s: expected at most %s items', p_path, p_schema ->> 'maxItems'));
        END IF;
        IF jsonb_typeof(p_schema -> 'items') = 'object' THEN
            FOR v_elem, v_idx IN SELECT e.value, e.ordinality - 1 FROM jsonb_array_elements(p_doc) WITH ORDINALITY e LOOP
                v_errors := v_errors || tasker.json_schema_errors(p_schema -> 'items', v_elem, format('%s[%s]', p_path, v_idx));
            END LOOP;
        END IF;
    ELSIF v_type = 'string' THEN
        IF p_schema ? 'minLength' AND length(p_doc #>> '{}') < (p_schema ->> 'minLength')::integer THEN
            v_errors := array_append(v_errors, format('%s: shorter than %s characters', p_path, p_schema ->> 'minLength'));
        END IF;
        IF p_schema ? 'maxLength' AND length(p_doc #>> '{}') > (p_schema ->> 'maxLength')::integer THEN
            v_errors := array_append(v_errors, format('%s: longer than %s characters', p_path, p_schema ->> 'maxLength'));
        END IF;
        IF p_schema ? 'pattern' AND NOT (p_doc #>> '{}') ~ (p_schema ->> 'pattern') THEN
            v_errors := array_append(v_errors, format('%s: does not match pattern %s', p_path, p_schema ->> 'pattern'));
        END IF;
    ELSIF v_type = 'number' THEN
        IF p_schema ? 'minimum' AND (p_doc #>> '{}')::numeric < (p_schema ->> 'minimum')::numeric THEN
            v_errors := array_append(v_errors, format('%s: less than minimum %s', p_path, p_schema ->> 'minimum'));
        END IF;
        IF p_schema ? 'maximum' AND (p_doc #>> '{}')::numeric > (p_schema ->> 'maximum')::numeric THEN
            v_errors := array_append(v_errors, format('%s: greater than maximum %s', p_path, p_schema ->> 'maximum'));
        END IF;
    END IF;
    RETURN v_errors;
END;
$$;
COMMENT ON FUNCTION tasker.json_schema_errors(jsonb, jsonb, text) IS
    'Validates a JSON document against the JSON Schema subset of template input_schema. Pure. Returns one message per violation, each starting with the JSON path; an empty array means valid.';
