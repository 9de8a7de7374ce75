-- tasker._input_schema_problem(schema, path, depth): checks that a template's input_schema is
-- one that tasker.json_schema_errors can apply, so a bad schema is refused when the template is
-- registered instead of failing every task created from it.
--
-- Checks every keyword of the supported subset, at every level: type (a type name or a non-empty
-- list of them: string, number, integer, object, array, boolean, null), enum (a list), required
-- (a list of strings), properties (an object of schemas), additionalProperties and items (a
-- schema or a boolean), minItems / maxItems / minLength / maxLength (integers from 0 to
-- 2147483647), minimum / maximum (numbers), pattern (a string that compiles as a PostgreSQL
-- regular expression). Schemas nest at most 32 levels. Unknown keywords are ignored, as JSON
-- Schema does.
-- Guarantees: reads and writes nothing. Returns NULL when the schema is usable, else one message
-- naming the keyword's path ('input_schema.properties.code.pattern: ...').
CREATE OR REPLACE FUNCTION tasker._input_schema_problem(p_schema jsonb, p_path text, p_depth integer DEFAULT 0)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = ''
AS $$
DECLARE
    c_types   CONSTANT text[] := ARRAY['string', 'number', 'integer', 'object', 'array', 'boolean', 'null'];
    c_max_depth CONSTANT integer := 32;
    v_kw      text;
    v_val     jsonb;
    v_key     text;
    v_sub     jsonb;
    v_problem text;
BEGIN
    IF jsonb_typeof(p_schema) = 'boolean' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(p_schema) IS DISTINCT FROM 'object' THEN
        RETURN format('%s: a schema must be an object, got %s', p_path, coalesce(jsonb_typeof(p_schema), 'nothing'));
    END IF;
    IF p_depth > c_max_depth THEN
        RETURN format('%s: schemas nest deeper than %s levels', p_path, c_max_depth);
    END IF;

    IF p_schema ? 'type' THEN
        v_val := p_schema -> 'type';
        IF NOT (
            (jsonb_typeof(v_val) = 'string' AND (v_val #>> '{}') = ANY (c_types))
            OR (jsonb_typeof(v_val) = 'array' AND jsonb_array_length(v_val) > 0
                AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v_val) t
                                 WHERE jsonb_typeof(t) <> 'string' OR NOT (t #>> '{}') = ANY (c_types)))
        ) THEN
            RETURN format('%s.type: must be one of %s, or a list of them; got %s',
                          p_path, array_to_string(c_types, ', '), v_val);
        END IF;
    END IF;
    IF p_schema ? 'enum' AND jsonb_typeof(p_schema -> 'enum') <> 'array' THEN
        RETURN format('%s.enum: must be a list of values, got %s', p_path, jsonb_typeof(p_schema -> 'enum'));
    END IF;
    IF p_schema ? 'required' AND (jsonb_typeof(p_schema -> 'required') <> 'array'
        OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_schema -> 'required') r WHERE jsonb_typeof(r) <> 'string')) THEN
        RETURN format('%s.required: must be a list of property names', p_path);
    END IF;
    FOREACH v_kw IN ARRAY ARRAY['minItems', 'maxItems', 'minLength', 'maxLength'] LOOP
        v_val := p_schema -> v_kw;
        IF v_val IS NOT NULL AND NOT (jsonb_typeof(v_val) = 'number'
            AND (v_val #>> '{}')::numeric % 1 = 0
            AND (v_val #>> '{}')::numeric BETWEEN 0 AND 2147483647) THEN
            RETURN format('%s.%s: must be an integer from 0 to 2147483647, got %s', p_path, v_kw, v_val);
        END IF;
    END LOOP;
    FOREACH v_kw IN ARRAY ARRAY['minimum', 'maximum'] LOOP
        v_val := p_schema -> v_kw;
        IF v_val IS NOT NULL AND jsonb_typeof(v_val) <> 'number' THEN
            RETURN format('%s.%s: must be a number, got %s', p_path, v_kw, v_val);
        END IF;
    END LOOP;
    IF p_schema ? 'pattern' THEN
        IF jsonb_typeof(p_schema -> 'pattern') <> 'string' THEN
            RETURN format('%s.pattern: must be a string, got %s', p_path, p_schema -> 'pattern');
        END IF;
        BEGIN
            PERFORM '' ~ (p_schema ->> 'pattern');
        EXCEPTION WHEN invalid_regular_expression THEN
            RETURN format('%s.pattern: not a valid regular expression: %s', p_path, SQLERRM);
        END;
    END IF;

    IF p_schema ? 'properties' THEN
        IF jsonb_typeof(p_schema -> 'properties') <> 'object' THEN
            RETURN format('%s.properties: must be an object of schemas, got %s', p_path, jsonb_typeof(p_schema -> 'properties'));
        END IF;
        FOR v_key, v_sub IN SELECT e.key, e.value FROM jsonb_each(p_schema -> 'properties') e LOOP
            v_problem := tasker._input_schema_problem(v_sub, p_path || '.properties.' || v_key, p_depth + 1);
            IF v_problem IS NOT NULL THEN
                RETURN v_problem;
            END IF;
        END LOOP;
    END IF;
    FOREACH v_kw IN ARRAY ARRAY['additionalProperties', 'items'] LOOP
        IF p_schema ? v_kw THEN
            v_problem := tasker._input_schema_problem(p_schema -> v_kw, p_path || '.' || v_kw, p_depth + 1);
            IF v_problem IS NOT NULL THEN
                RETURN v_problem;
            END IF;
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION tasker._input_schema_problem(jsonb, text, integer) IS
    'Checks a template input_schema against the JSON Schema subset json_schema_errors applies (keyword types, valid regex, 32 levels at most). Pure. Returns NULL when usable, else a message naming the keyword path.';
