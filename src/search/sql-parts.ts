import { sql, type Kysely, type RawBuilder, type SelectQueryBuilder } from 'kysely'
import type { HnswSettings } from './hnsw-settings.js'
import type { SearchRequest } from './search-options.js'
import type { SearchTarget } from './search-target.js'

/** The text-search configuration of every `search_vector` (migration 0003) and query. */
export const TEXT_SEARCH_CONFIG = 'english'

/** Where the extensions a query uses live (quoted schemas), and the model's dimension. */
export interface SearchExtensions {
  trgm?: string
  vector?: string
  dimension?: number
  /** Vector and hybrid: the HNSW scan settings of the call. */
  hnsw?: HnswSettings
}

/**
 * The arguments of a query built once per shape: `add` returns the slot index of a value, and
 * the same calls in the same order give the same indexes for every request of one shape.
 */
export class SearchArgs {
  readonly values: unknown[] = []
  /**
   * The slot index of `value`, appended to the arguments.
   *
   * @example
   * ```ts
   * const q = args.add(request.text) // build: slots[q]
   * ```
   */
  add(value: unknown): number {
    this.values.push(value)
    return this.values.length - 1
  }
}

/** A search statement: its shape key, its arguments, and how to build it from slots. */
export interface SearchStatement {
  shape: string
  args: readonly unknown[]
  build(slots: readonly unknown[]): SelectQueryBuilder<any, any, any>
}

type Query = SelectQueryBuilder<any, any, any>

/**
 * The slots of a request's scope filters: one per filter set to a value (null / undefined kept).
 *
 * @example
 * ```ts
 * const filters = filterSlots(request, args) // later: applyFilters(query, target, request, slots, filters)
 * ```
 */
export function filterSlots(request: SearchRequest, args: SearchArgs): (number | null | undefined)[] {
  return request.filters.map(([, value]) => (value == null ? (value as null | undefined) : args.add(value)))
}

/**
 * Adds the scope filters (on alias `t`): left out = any, null = IS NULL, else `=` the slot; and
 * the target's `live` condition (memories: not expired).
 *
 * @example
 * ```ts
 * query = applyFilters(query, target, request, slots, filters)
 * ```
 */
export function applyFilters(
  query: Query, target: SearchTarget<unknown>, request: SearchRequest, slots: readonly unknown[], at: readonly (number | null | undefined)[],
): Query {
  if (target.live !== undefined) query = query.where(target.live)
  request.filters.forEach(([column, ], i) => {
    const slot = at[i]
    if (slot === null) query = query.where(`t.${column}`, 'is', null)
    else if (slot !== undefined) query = query.where(`t.${column}`, '=', slots[slot])
  })
  return query
}

/**
 * The shape letters of a request's filters (`_` any, `n` null, `v` value).
 *
 * @example
 * ```ts
 * filterShape(request) // '_nv_'
 * ```
 */
export function filterShape(request: SearchRequest): string {
  return request.filters.map(([, v]) => (v === undefined ? '_' : v === null ? 'n' : 'v')).join('')
}

/**
 * `websearch_to_tsquery('english', $q) AS q`, for the FROM list: computed once per statement.
 * (In the WHERE clause, a generic plan — the server's after five executions of a prepared
 * statement — computed it again for every row: 2-3× slower. A scalar subquery instead would hide
 * it from the planner, which then stops using the GIN index.)
 *
 * @example
 * ```ts
 * kysely.selectFrom(['messages as t', tsQuery(slots[q])]).where(matchExpression())
 * ```
 */
export function tsQuery(q: unknown) {
  return sql`websearch_to_tsquery(${sql.lit(TEXT_SEARCH_CONFIG)}::regconfig, ${q}::text)`.as('q')
}

/**
 * Full-text rank of `t` for the query `q` (see {@link tsQuery}), as float8 (a float4 widened exactly).
 *
 * @example
 * ```ts
 * query.select(rankExpression().as('score'))
 * ```
 */
export function rankExpression(): RawBuilder<number> {
  return sql<number>`ts_rank_cd(t.search_vector, q)::float8`
}

/**
 * `t.search_vector @@ q`: what the GIN index answers.
 *
 * @example
 * ```ts
 * query.where(matchExpression())
 * ```
 */
export function matchExpression(): RawBuilder<boolean> {
  return sql<boolean>`t.search_vector @@ q`
}

/**
 * `<schema>.vector(<dim>)`.
 *
 * @example
 * ```ts
 * vectorType({ vector: '"public"', dimension: 384 }) // "public".vector(384)
 * ```
 */
export function vectorType(ext: SearchExtensions): RawBuilder<unknown> {
  return sql.raw(`${ext.vector}.vector(${ext.dimension})`)
}

/**
 * Cosine distance of the embedding (alias `e`) to the query vector, written exactly as the
 * per-model HNSW index's expression: `(e.embedding::<s>.vector(<dim>)) <s>.<=> $v`.
 *
 * @example
 * ```ts
 * query.orderBy(distanceExpression(slots[v], ext))
 * ```
 */
export function distanceExpression(v: unknown, ext: SearchExtensions): RawBuilder<number> {
  const type = vectorType(ext)
  return sql<number>`(e.embedding::${type} OPERATOR(${sql.raw(ext.vector!)}.<=>) ${v}::${type})`
}

/**
 * The embeddings of the request's model (alias `e`) joined to their rows (alias `t`), filtered
 * by scope. The model is a literal, so the planner can match the model's partial HNSW index.
 *
 * @example
 * ```ts
 * const query = embeddedRows(kysely, messageSearchTarget, request).select('t.id')
 * ```
 */
export function embeddedRows(kysely: Kysely<any>, target: SearchTarget<unknown>, request: SearchRequest): Query {
  return kysely
    .selectFrom(`${target.embeddings} as e`)
    .innerJoin(`${target.table} as t`, 't.id', `e.${target.owner}`)
    .where(sql<boolean>`e.model = ${sql.lit(request.model)}`)
}

/**
 * `(-score, id) > (-$score, $id)`: the rows after a hit in (score DESC, id ASC) order.
 *
 * @example
 * ```ts
 * query.where(afterScore(rank, 't.id', slots, [scoreSlot, idSlot]))
 * ```
 */
export function afterScore(score: RawBuilder<number> | string, id: string, slots: readonly unknown[], at: readonly [number, number]): RawBuilder<boolean> {
  const s = typeof score === 'string' ? sql.ref(score) : score
  return sql<boolean>`(-(${s}), ${sql.ref(id)}) > (-(${slots[at[0]]}::float8), ${slots[at[1]]}::uuid)`
}
