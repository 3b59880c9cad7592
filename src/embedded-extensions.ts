import type { Extensions } from '@electric-sql/pglite'

/**
 * The PostgreSQL extensions every embedded database loads: `vector` (pgvector, from
 * `@electric-sql/pglite-pgvector`, which is built for one exact PGlite version: the pair is pinned
 * in package.json) and `pg_trgm` (bundled with PGlite). Loaded lazily, with PGlite itself.
 *
 * @example
 * ```ts
 * const pglite = await PGlite.create({ extensions: await embeddedExtensions() })
 * ```
 */
export async function embeddedExtensions(): Promise<Extensions> {
  const [{ vector }, { pg_trgm }] = await Promise.all([
    import('@electric-sql/pglite-pgvector'),
    import('@electric-sql/pglite/contrib/pg_trgm'),
  ])
  return { vector, pg_trgm }
}
