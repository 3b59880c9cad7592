import { sql, type Kysely } from 'kysely'
import type { SearchRequest } from './search-options.js'
import type { SearchTarget } from './search-target.js'
import { afterScore, applyFilters, filterShape, filterSlots, matchExpression, rankExpression, SearchArgs, tsQuery, type SearchStatement } from './sql-parts.js'

/**
 * The full-text search statement: rows whose `search_vector` matches
 * `websearch_to_tsquery('english', text)` (GIN index), ranked by `ts_rank_cd`, best first, then
 * by id; `limit + 1` rows (one more tells whether a next page exists).
 *
 * @example
 * ```ts
 * const { shape, args, build } = fulltextStatement(db.kysely, messageTarget, request)
 * ```
 */
export function fulltextStatement(kysely: Kysely<any>, target: SearchTarget<unknown>, request: SearchRequest): SearchStatement {
  const args = new SearchArgs()
  const q = args.add(request.text)
  const filters = filterSlots(request, args)
  const after = request.after ? ([args.add(request.after.score), args.add(request.after.id)] as const) : undefined
  const limit = args.add(request.limit + 1)
  return {
    shape: `${target.table}.search:fulltext:${filterShape(request)}:${after ? 'after' : 'first'}`,
    args: args.values,
    build: (slots) => {
      const rank = rankExpression()
      let query = kysely
        .selectFrom([`${target.table} as t`, tsQuery(slots[q])])
        .select(target.columns.map((c) => `t.${c}`))
        .select(rank.as('score'))
        .where(matchExpression())
      query = applyFilters(query, target, request, slots, filters)
      if (after) query = query.where(afterScore(rank, 't.id', slots, after))
      return query.orderBy(sql`score`, 'desc').orderBy('t.id').limit(slots[limit] as number)
    },
  }
}
