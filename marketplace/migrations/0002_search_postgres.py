"""Full-text search on PostgreSQL: a weighted tsvector kept current by a trigger, a GIN index
on it, and a trigram index on the name for typo-tolerant matching. A no-op on SQLite."""

from django.db import migrations

FORWARD = r"""
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE OR REPLACE FUNCTION marketplace_jsonb_words(value jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(value) = 'array'
        THEN coalesce((SELECT string_agg(item, ' ') FROM jsonb_array_elements_text(value) AS item), '')
        ELSE '' END
$$;

CREATE OR REPLACE FUNCTION marketplace_agent_search_vector() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('english', coalesce(NEW.name, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(NEW.short_description, '')), 'B') ||
        setweight(to_tsvector('english', replace(marketplace_jsonb_words(NEW.tags), '-', ' ')), 'B') ||
        setweight(to_tsvector('english', replace(marketplace_jsonb_words(NEW.skills), '_', ' ')), 'B') ||
        setweight(to_tsvector('english', coalesce(NEW.business_domain, '')), 'B') ||
        setweight(to_tsvector('english', coalesce(NEW.problem_statement, '')), 'C') ||
        setweight(to_tsvector('english', coalesce(NEW.description, '')), 'C');
    RETURN NEW;
END
$$;

CREATE TRIGGER marketplace_agent_search_vector_trigger
    BEFORE INSERT OR UPDATE OF name, short_description, tags, skills, business_domain, problem_statement, description
    ON marketplace_agent FOR EACH ROW EXECUTE FUNCTION marketplace_agent_search_vector();

CREATE INDEX marketplace_agent_search_idx ON marketplace_agent USING gin (search_vector);
CREATE INDEX marketplace_agent_name_trgm_idx ON marketplace_agent USING gin (lower(name) gin_trgm_ops);
"""

BACKWARD = r"""
DROP INDEX IF EXISTS marketplace_agent_name_trgm_idx;
DROP INDEX IF EXISTS marketplace_agent_search_idx;
DROP TRIGGER IF EXISTS marketplace_agent_search_vector_trigger ON marketplace_agent;
DROP FUNCTION IF EXISTS marketplace_agent_search_vector();
DROP FUNCTION IF EXISTS marketplace_jsonb_words(jsonb);
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
