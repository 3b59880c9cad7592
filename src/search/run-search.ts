import type { Kysely } from 'kysely'
import { readOn, type QueryContext } from '../execution/query-context.js'
import { encodeCursor } from '../repositories/cursor.js'
import { fulltextStatement } from './fulltext.js'
import { fuzzyStatement } from './fuzzy.js'
import { asSearchHits, type SearchHits } from './hits.js'
import { hnswSettings, withPlannerSettings, withVectorSearch } from './hnsw-settings.js'
import { hybridStatement } from './hybrid.js'
import { readSearchOptions, type SearchRequest } from './search-options.js'
import type { SearchTarget } from './search-target.js'
import type { SearchExtensions, SearchStatement } from './sql-parts.js'
import { vectorStatement } from './vector.js'

/**
 * The statement a search call runs, built from its checked request: exported so tests (EXPLAIN)
 * and tools see exactly the repository's SQL.
 *
 * @example
 * ```ts
 * const { build, args } = searchStatement(db.kysely, messageSearchTarget, readSearchOptions(messageSearchTarget, { text: 'tea' }), {})
 * const { sql, parameters } = build(args).compile()
 * ```
 */
export function searchStatement(kysely: Kysely<any>, target: SearchTarget<unknown>, request: SearchRequest, ext: SearchExtensions): SearchStatement {
  switch (request.mode) {
    case 'fulltext':
      return fulltextStatement(kysely, target, request)
    case 'fuzzy':
      return fuzzyStatement(kysely, target, request, ext)
    case 'vector':
      return vectorStatement(kysely, target, request, ext)
    case 'hybrid':
      return hybridStatement(kysely, target, request, ext)
  }
}

/**
 * What a search call needs besides its request: the extensions' schemas (FeatureUnavailableError
 * when one is missing: `vector` for vector and hybrid search), the vector's dimension and the
 * HNSW settings (the model's registered dimension is checked when the search runs).
 *
 * @example
 * ```ts
 * const ext = await searchExtensions(context, owner, request)
 * ```
 */
export async function searchExtensions(context: QueryContext<any>, owner: object, request: SearchRequest): Promise<SearchExtensions> {
  if (request.mode === 'fuzzy') return { trgm: (await context.extension('pg_trgm')).schema }
  if (request.mode !== 'vector' && request.mode !== 'hybrid') return {}
  const { schema: vector, version } = await context.extension('vector')
  // The model's dimension is checked by the search's first statement (withVectorSearch).
  const dimension = request.vector!.length
  return { vector, dimension, hnsw: hnswSettings(request, version) }
}

/**
 * Runs `messages.search` / `memories.search`: checks the options, runs one statement, returns
 * the hits best first with the cursor of the next page.
 *
 * @example
 * ```ts
 * const hits = await runSearch(context, owner, messageSearchTarget, { text: 'refund' })
 * ```
 */
export async function runSearch<T>(context: QueryContext<any>, owner: object, target: SearchTarget<T>, options: unknown): Promise<SearchHits<T>> {
  const request = readSearchOptions(target, options)
  // On a replica when the Db has them (the settings transaction of vector and fuzzy search too).
  const { rows } = await readOn(context, async (reader) => {
    const ext = await searchExtensions(reader, owner, request)
    const statement = searchStatement(reader.kysely, target, request, ext)
    const run = (ctx: QueryContext<any>) => ctx.runCompiled<any>(statement.shape, statement.args, statement.build, owner)
    if (ext.hnsw !== undefined) return withVectorSearch(reader, owner, request, ext.hnsw, run)
    return request.mode === 'fuzzy' ? withPlannerSettings(reader, owner, [['enable_seqscan', 'off']], run) : run(reader)
  })
  const { limit } = request
  const kept = rows.length > limit ? rows.slice(0, limit) : rows
  const hits = kept.map((row) => ({ item: target.toEntity(row), score: Number(row.score) }))
  const last = kept[kept.length - 1]
  let nextCursor: string | null = null
  if (rows.length > limit && last !== undefined) {
    const extra = request.mode === 'vector' ? [Number(last.distance)] : request.mode === 'hybrid' ? [request.candidates] : []
    nextCursor = encodeCursor(request.scope, [Number(last.score), last.id, ...extra])
  }
  return asSearchHits(hits, nextCursor)
}
