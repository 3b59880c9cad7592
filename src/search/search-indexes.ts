import { sql, type Kysely } from 'kysely'
import { EXTENSIONS_SQL } from '../execution/extensions.js'
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
  const { rows } = await sql<{ name: string; schema: string }>`${sql.raw(EXTENSIONS_SQL)}`.execute(kysely)
  const schemaOf = (name: string) => rows.find((r) => r.name === name)?.schema
  const trgm = schemaOf('pg_trgm')
  if (trgm !== undefined) {
    const ops = sql.raw(`${trgm}.gin_trgm_ops`)
    await sql`CREATE INDEX IF NOT EXISTS memories_name_trgm_idx ON memories USING gin (name ${ops})`.execute(kysely)
    await sql`CREATE INDEX IF NOT EXISTS memories_content_trgm_idx ON memories USING gin (content ${ops})`.execute(kysely)
  }
  const vector = schemaOf('vector')
  if (vector !== undefined) await ensureHnswIndexes(kysely, vector)
}
