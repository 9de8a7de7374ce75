-- tasker.template_overview: one row per registered template with its step count.
DROP VIEW IF EXISTS tasker.template_overview;
CREATE VIEW tasker.template_overview AS
SELECT t.template_uuid,
       t.namespace,
       t.name,
       t.version,
       t.description,
       jsonb_array_length(t.definition -> 'steps') AS step_count,
       t.definition,
       t.created_at,
       t.updated_at
  FROM tasker.task_templates t;
COMMENT ON VIEW tasker.template_overview IS
    'One row per registered template with its step count and normalized definition.';
