import { sql } from 'kysely'
import type { QueryContext } from '../execution/query-context.js'
import { ValidationError } from '../errors.js'
import { atomically, isInTransaction } from './atomic.js'
import { dimensionMismatch } from './model-registry.js'
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
 * Runs a vector or hybrid search `fn` after one statement that reads the model's dimension (an
 * unknown model, or a vector of another dimension, is a ValidationError) and, when the call needs
 * more than pgvector's defaults — `ef_search` above 40, scope filters or a cursor — sets
 * `settings` for the transaction (`set_config(…, true)`, i.e. SET LOCAL: never left on a pooled
 * connection). Outside a transaction that means a short one of its own (BEGIN, settings, search,
 * COMMIT); inside yours the settings last until yours ends. Without settings: two statements.
 *
 * @example
 * ```ts
 * const { rows } = await withVectorSearch(context, owner, request, { efSearch: 100, iterative: true }, (ctx) => ctx.runCompiled(…))
 * ```
 */
export async function withVectorSearch<R>(
  context: QueryContext<any>,
  owner: object,
  request: SearchRequest,
  settings: HnswSettings,
  fn: (context: QueryContext<any>) => Promise<R>,
): Promise<R> {
  const set = settings.efSearch > EF_SEARCH_DEFAULT || request.after !== undefined || request.filters.some(([, v]) => v !== undefined)
  const body = async (ctx: QueryContext<any>) => {
    const shape = `search.vector-checks:${set ? (settings.iterative ? 'iterative' : 'ef') : 'none'}`
    const args = set ? [request.model, String(settings.efSearch)] : [request.model]
    const { rows } = await ctx.runCompiled<{ dimension: number | null }>(
      shape,
      args,
      ([model, ef]) =>
        ctx.kysely.selectNoFrom((eb: any) => [
          eb.selectFrom('embedding_models').select('dimension').where('name', '=', model).as('dimension'),
          ...(set ? [sql`set_config('hnsw.ef_search', ${ef}::text, true)`.as('ef_search')] : []),
          ...(set && settings.iterative ? [sql`set_config('hnsw.iterative_scan', 'strict_order', true)`.as('iterative_scan')] : []),
        ]),
      owner,
    )
    const dimension = rows[0]?.dimension ?? undefined
    if (dimension === undefined) {
      throw new ValidationError([{ field: 'model', messages: [`model ${request.model} is not known: no embedding was stored for it`] }], request.method)
    }
    if (dimension !== request.vector!.length) throw dimensionMismatch('vector', request.model!, dimension, request.vector!.length, request.method)
    return fn(ctx)
  }
  return !set || isInTransaction(context) ? body(context) : atomically(context, body)
}

/**
 * Runs `fn` with planner settings for one search (`set_config(name, value, true)`): in a short
 * transaction of its own (BEGIN, settings, search, COMMIT), or inside yours, where the previous
 * values are put back after the search. Fuzzy search uses it to keep the planner off a
 * sequential scan: it prices pg_trgm's similarity functions as cheap, while each costs about
 * 10 µs a row on memory content (measured: 265 ms against 20 ms over 21k memories).
 *
 * @example
 * ```ts
 * const { rows } = await withPlannerSettings(context, owner, [['enable_seqscan', 'off']], (ctx) => ctx.runCompiled(…))
 * ```
 */
export async function withPlannerSettings<R>(
  context: QueryContext<any>,
  owner: object,
  settings: readonly (readonly [name: string, value: string])[],
  fn: (context: QueryContext<any>) => Promise<R>,
): Promise<R> {
  const key = settings.map(([k, v]) => `${k}=${v}`).join(',')
  const apply = (ctx: QueryContext<any>, values: readonly string[], shape: string) =>
    ctx.runCompiled<Record<string, string>>(
      shape,
      values,
      (slots) =>
        ctx.kysely.selectNoFrom(
          settings.flatMap(([name], i) => [
            sql<string>`current_setting(${sql.lit(name)})`.as(`p${i}`),
            sql`set_config(${sql.lit(name)}, ${slots[i]}::text, true)`.as(`s${i}`),
          ]),
        ),
      owner,
    )
  const body = (ctx: QueryContext<any>) => apply(ctx, settings.map(([, v]) => v), `search.settings:${key}`).then(() => fn(ctx))
  if (!isInTransaction(context)) return atomically(context, body)
  const { rows } = await apply(context, settings.map(([, v]) => v), `search.settings:${key}`)
  const restore = () => apply(context, settings.map((_, i) => rows[0]![`p${i}`]!), `search.settings:${key}`)
  let result: R
  try {
    result = await fn(context)
  } catch (err) {
    // A failed statement aborted your transaction: its rollback puts the settings back.
    await restore().catch(() => undefined)
    throw err
  }
  await restore()
  return result
}
