import { sql, type Kysely } from 'kysely'
import { ensureHnswIndexes } from './model-registry.js'

/**
 * Builds the search indexes an extension installed after migration 0003 makes possible: the
 * trigram indexes of memory names and content (pg_trgm) and the HNSW indexes of the embedding
 * models (pgvector). `db.migrate()` calls it after the migrations; with the indexes there, or the
 * extensions still missing, it only reads the catalog.
 *
 * @example
 * ```ts
 * await ensureSearchIndexes(kysely) // after CREATE EXTENSION pg_trgm
 * ```
 */
export async function ensureSearchIndexes(kysely: Kysely<any>): Promise<void> {
  const { rows } = await sql<{ schema: string }>`
    SELECT quote_ident(n.nspname) AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm'`.execute(kysely)
  if (rows[0] !== undefined) {
    const ops = sql.raw(`${rows[0].schema}.gin_trgm_ops`)
    await sql`CREATE INDEX IF NOT EXISTS memories_name_trgm_idx ON memories USING gin (name ${ops})`.execute(kysely)
    await sql`CREATE INDEX IF NOT EXISTS memories_content_trgm_idx ON memories USING gin (content ${ops})`.execute(kysely)
  }
  await ensureHnswIndexes(kysely)
}
