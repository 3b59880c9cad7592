import { sql } from 'kysely'
import { kyselyContext, type QueryContext } from '../execution/query-context.js'
import { Scope } from '../execution/scope.js'
import { runTransaction } from '../execution/transaction.js'
import type { SearchRequest } from './search-options.js'

/** pgvector's default and largest `hnsw.ef_search`. */
const EF_SEARCH_DEFAULT = 40
const EF_SEARCH_MAX = 1000

/**
 * The HNSW scan settings of one vector or hybrid search. An HNSW index scan returns about
 * `hnsw.ef_search` rows (default 40): with the default, `limit: 100` would find 40 hits, and
 * hybrid's vector side (up to `max(4 × limit, 100)` candidates) would be cut short. So
 * `ef_search` is raised to what the call needs (at most 1000). pgvector 0.8+ also gets
 * `hnsw.iterative_scan = strict_order`: when scope filters or a cursor drop rows, the scan goes
 * on (up to `hnsw.max_scan_tuples`, 20 000 by default) until the page is full, still in
 * distance order.
 */
export interface HnswSettings {
  efSearch: number
  iterative: boolean
}

/**
 * The settings a request needs on a pgvector of version `version`.
 *
 * @example
 * ```ts
 * hnswSettings(request, '0.8.0') // { efSearch: 100, iterative: true }
 * ```
 */
export function hnswSettings(request: SearchRequest, version: string): HnswSettings {
  const wanted = request.mode === 'hybrid' ? request.candidates : request.limit + 1
  const [major = 0, minor = 0] = version.split('.').map(Number)
  return { efSearch: Math.min(EF_SEARCH_MAX, Math.max(EF_SEARCH_DEFAULT, wanted)), iterative: major > 0 || minor >= 8 }
}

/**
 * Runs `fn` in a transaction (a savepoint inside yours) whose HNSW scans use `settings`
 * (`set_config(…, true)`: SET LOCAL, gone at the end of the transaction, never left on a pooled
 * connection; inside your transaction it lasts until yours ends).
 *
 * @example
 * ```ts
 * const { rows } = await withHnswSettings(context, owner, { efSearch: 100, iterative: true }, (ctx) => ctx.runCompiled(…))
 * ```
 */
export async function withHnswSettings<R>(
  context: QueryContext<any>,
  owner: object,
  settings: HnswSettings,
  fn: (context: QueryContext<any>) => Promise<R>,
): Promise<R> {
  const body = async (ctx: QueryContext<any>) => {
    const shape = `search.hnsw-settings:${settings.iterative ? 'iterative' : 'plain'}`
    await ctx.runCompiled(shape, [String(settings.efSearch)], ([ef]) =>
      ctx.kysely.selectNoFrom([
        sql`set_config('hnsw.ef_search', ${ef}::text, true)`.as('ef_search'),
        ...(settings.iterative ? [sql`set_config('hnsw.iterative_scan', 'strict_order', true)`.as('iterative_scan')] : []),
      ]),
      owner,
    )
    return fn(ctx)
  }
  if (context instanceof Scope) return runTransaction(context, (scope) => body(scope), {})
  const kysely = context.kysely
  return kysely.isTransaction ? body(context) : kysely.transaction().execute((trx) => body(kyselyContext(trx)))
}
