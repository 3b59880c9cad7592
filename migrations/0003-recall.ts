import { sql, type Kysely } from 'kysely'

/**
 * Recall: full-text, fuzzy and vector search, and the token counts of context loading.
 *
 * - Extensions. `pg_trgm` (contrib on a server, bundled with PGlite) and `vector` (pgvector) are
 *   installed when the server has them and the role may create them, skipped otherwise; the rest
 *   of the migration does not depend on them (the trigram indexes are built when pg_trgm is there,
 *   or by a later db.migrate() once it is). Both are created in `public` when missing,
 *   whatever schema the migration runs in (a tenant's schema runs with only itself on the
 *   search_path): queries qualify their operators with the extension's schema.
 * - `messages.token_count`: given by the writer, or estimated by a trigger at write time (when it
 *   is NULL: left out of an INSERT, or set to NULL by an UPDATE) as
 *   ceil(characters / 4) over the text and the tool calls and outputs (their JSON text, when not
 *   `{}`): about 4 characters per token in English for the usual BPE tokenizers. Existing rows are
 *   estimated here.
 * - `search_vector` on messages (text) and memories (name A, description B, content C): stored
 *   generated `tsvector`s with the `english` configuration (stemming: "running" finds "run"), each
 *   with a GIN index, over the first 100 000 characters of a text (a tsvector holds at most 1 MB).
 *   Adding a stored generated column rewrites the table once.
 * - Trigram GIN indexes on memory names and content, for typos and partial words.
 * - Embeddings: `embedding_models` (one dimension per model), `message_embeddings` and
 *   `memory_embeddings` (one vector per row and model, as `real[]`: storable without pgvector;
 *   searching needs it). Per-model HNSW indexes are created when a model is first used.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // Each in a subtransaction: a server without the extension, or a role that may not create it
  // (pg_trgm is trusted: it needs CREATE on the database; pgvector needs a superuser), skips it.
  // Searches that need a missing one throw FeatureUnavailableError; db.migrate() builds their
  // indexes once it is installed.
  for (const extension of ['pg_trgm', 'vector']) {
    await sql`
      DO $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = ${sql.lit(extension)})
           AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = ${sql.lit(extension)}) THEN
          BEGIN
            CREATE EXTENSION ${sql.id(extension)} WITH SCHEMA public;
          EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE '% is available but could not be created: %', ${sql.lit(extension)}, SQLERRM;
          END;
        END IF;
      END
      $$
    `.execute(db)
  }

  await sql`
    CREATE FUNCTION automagik_estimate_tokens(text_content text, tool_calls jsonb, tool_outputs jsonb)
    RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
      SELECT ceil((
        coalesce(char_length(text_content), 0)
        + CASE WHEN tool_calls IS NULL OR tool_calls = '{}'::jsonb THEN 0 ELSE char_length(tool_calls::text) END
        + CASE WHEN tool_outputs IS NULL OR tool_outputs = '{}'::jsonb THEN 0 ELSE char_length(tool_outputs::text) END
      ) / 4.0)::integer
    $$
  `.execute(db)
  await sql`ALTER TABLE messages ADD COLUMN token_count integer`.execute(db)
  // The backfill is not activity: updated_at stays as it was.
  await sql`ALTER TABLE messages DISABLE TRIGGER messages_touch_updated_at`.execute(db)
  await sql`UPDATE messages SET token_count = automagik_estimate_tokens(text_content, tool_calls, tool_outputs)`.execute(db)
  await sql`ALTER TABLE messages ENABLE TRIGGER messages_touch_updated_at`.execute(db)
  await sql`ALTER TABLE messages ALTER COLUMN token_count SET NOT NULL`.execute(db)
  await sql`ALTER TABLE messages ADD CONSTRAINT messages_token_count_check CHECK (token_count >= 0)`.execute(db)
  // SET search_path FROM CURRENT: the estimate function of this migration's schema.
  await sql`
    CREATE FUNCTION automagik_message_token_count() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path FROM CURRENT
    AS $$
    BEGIN
      IF TG_OP = 'UPDATE'
         AND NEW.text_content IS NOT DISTINCT FROM OLD.text_content
         AND NEW.tool_calls IS NOT DISTINCT FROM OLD.tool_calls
         AND NEW.tool_outputs IS NOT DISTINCT FROM OLD.tool_outputs THEN
        NEW.token_count := OLD.token_count; -- the same text: the count it had (given or estimated)
      ELSE
        NEW.token_count := automagik_estimate_tokens(NEW.text_content, NEW.tool_calls, NEW.tool_outputs);
      END IF;
      RETURN NEW;
    END
    $$
  `.execute(db)
  // NULL means "estimate it": on INSERT when left out, on UPDATE when set to NULL (messages.update
  // does that when the text or tool fields change and no tokenCount is given). NOT NULL is checked
  // after BEFORE triggers, so the trigger fills it in first.
  await sql`
    CREATE TRIGGER messages_estimate_tokens
    BEFORE INSERT OR UPDATE ON messages
    FOR EACH ROW WHEN (NEW.token_count IS NULL) EXECUTE FUNCTION automagik_message_token_count()
  `.execute(db)

  // A tsvector holds at most 1 MB: only the first 100 000 characters of a text are indexed (a
  // message of distinct words makes about 1.5 bytes of tsvector per character), so a large text
  // never fails a write.
  await sql`
    ALTER TABLE messages ADD COLUMN search_vector tsvector
      GENERATED ALWAYS AS (to_tsvector('english'::regconfig, left(coalesce(text_content, ''), 100000))) STORED
  `.execute(db)
  await sql`CREATE INDEX messages_search_idx ON messages USING gin (search_vector)`.execute(db)

  await sql`
    ALTER TABLE memories ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
      setweight(to_tsvector('english'::regconfig, left(coalesce(name, ''), 10000)), 'A') ||
      setweight(to_tsvector('english'::regconfig, left(coalesce(description, ''), 50000)), 'B') ||
      setweight(to_tsvector('english'::regconfig, left(coalesce(content, ''), 100000)), 'C')
    ) STORED
  `.execute(db)
  await sql`CREATE INDEX memories_search_idx ON memories USING gin (search_vector)`.execute(db)
  const trgm = await extensionSchema(db, 'pg_trgm')
  if (trgm !== undefined) {
    const ops = sql.raw(`${trgm}.gin_trgm_ops`)
    await sql`CREATE INDEX memories_name_trgm_idx ON memories USING gin (name ${ops})`.execute(db)
    await sql`CREATE INDEX memories_content_trgm_idx ON memories USING gin (content ${ops})`.execute(db)
  }

  await sql`
    CREATE TABLE embedding_models (
      name text PRIMARY KEY CONSTRAINT embedding_models_name_check
        CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$'),
      dimension integer NOT NULL CONSTRAINT embedding_models_dimension_check
        CHECK (dimension BETWEEN 1 AND 16000),
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT embedding_models_name_dimension_key UNIQUE (name, dimension)
    )
  `.execute(db)
  for (const [table, owner, parent] of [
    ['message_embeddings', 'message_id', 'messages'],
    ['memory_embeddings', 'memory_id', 'memories'],
  ] as const) {
    await sql`
      CREATE TABLE ${sql.table(table)} (
        ${sql.id(owner)} uuid NOT NULL REFERENCES ${sql.table(parent)} (id) ON DELETE CASCADE,
        model text NOT NULL,
        dimension integer NOT NULL,
        embedding real[] NOT NULL CONSTRAINT ${sql.id(`${table}_shape_check`)}
          CHECK (array_ndims(embedding) = 1 AND cardinality(embedding) = dimension),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (${sql.id(owner)}, model),
        CONSTRAINT ${sql.id(`${table}_model_fkey`)} FOREIGN KEY (model, dimension)
          REFERENCES embedding_models (name, dimension)
      )
    `.execute(db)
    await sql`
      CREATE TRIGGER ${sql.id(`${table}_touch_updated_at`)}
      BEFORE UPDATE ON ${sql.table(table)}
      FOR EACH ROW EXECUTE FUNCTION automagik_touch_updated_at()
    `.execute(db)
  }
}

/** Drops everything {@link up} created; the extensions stay (other schemas may use them). */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE memory_embeddings, message_embeddings, embedding_models`.execute(db)
  await sql`DROP INDEX IF EXISTS memories_content_trgm_idx, memories_name_trgm_idx`.execute(db)
  await sql`DROP INDEX memories_search_idx`.execute(db)
  await sql`ALTER TABLE memories DROP COLUMN search_vector`.execute(db)
  await sql`DROP INDEX messages_search_idx`.execute(db)
  await sql`ALTER TABLE messages DROP COLUMN search_vector`.execute(db)
  await sql`DROP TRIGGER messages_estimate_tokens ON messages`.execute(db)
  await sql`DROP FUNCTION automagik_message_token_count()`.execute(db)
  await sql`ALTER TABLE messages DROP COLUMN token_count`.execute(db)
  await sql`DROP FUNCTION automagik_estimate_tokens(text, jsonb, jsonb)`.execute(db)
}

/** The quoted schema an extension is installed in, or undefined when it is not. */
async function extensionSchema(db: Kysely<any>, extension: string): Promise<string | undefined> {
  const { rows } = await sql<{ schema: string }>`
    SELECT quote_ident(n.nspname) AS schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = ${extension}
  `.execute(db)
  return rows[0]?.schema
}
