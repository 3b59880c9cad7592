import { sql, type Kysely } from 'kysely'
import { vectorText } from './embedding-input.js'
import type { SearchRequest } from './search-options.js'
import type { SearchTarget } from './search-target.js'
import {
  afterScore,
  applyFilters,
  distanceExpression,
  embeddedRows,
  filterShape,
  filterSlots,
  matchExpression,
  rankExpression,
  SearchArgs,
  tsQuery,
  type SearchExtensions,
  type SearchStatement,
} from './sql-parts.js'

/** Reciprocal-rank fusion's constant: a hit at rank r on one side adds 1 / (60 + r). */
export const RRF_K = 60

/**
 * The hybrid search statement, one SQL statement: the best `candidates` rows by full-text rank
 * (`ft`) and the nearest `candidates` by cosine distance (`vs`), each numbered 1, 2, 3…, fused
 * by reciprocal rank: score = Σ 1 / (60 + rank) over the sides a row is on. Best first, ties by
 * id. A row on one side only still counts; at most 2 × candidates rows can be found.
 *
 * @example
 * ```ts
 * const { shape, args, build } = hybridStatement(db.kysely, messageTarget, request, { vector: '"public"', dimension: 384 })
 * ```
 */
export function hybridStatement(kysely: Kysely<any>, target: SearchTarget<unknown>, request: SearchRequest, ext: SearchExtensions): SearchStatement {
  const args = new SearchArgs()
  const q = args.add(request.text)
  const v = args.add(vectorText(request.vector!, true))
  const ftFilters = filterSlots(request, args)
  const vsFilters = filterSlots(request, args)
  const n = args.add(request.candidates)
  const after = request.after ? ([args.add(request.after.score), args.add(request.after.id)] as const) : undefined
  const limit = args.add(request.limit + 1)
  return {
    shape: `${target.table}.search:hybrid:${ext.vector}:${ext.dimension}:${request.model}:${filterShape(request)}:${after ? 'after' : 'first'}`,
    args: args.values,
    build: (slots) => {
      const rank = rankExpression()
      const distance = distanceExpression(slots[v], ext)
      const ftTop = applyFilters(
        kysely.selectFrom([`${target.table} as t`, tsQuery(slots[q])]).select('t.id').select(rank.as('score')).where(matchExpression()),
        target, request, slots, ftFilters,
      ).orderBy(sql`score`, 'desc').orderBy('t.id').limit(slots[n] as number)
      const vsTop = applyFilters(
        embeddedRows(kysely, target, request).select(sql.ref(`e.${target.owner}`).as('id')).select(distance.as('distance')),
        target, request, slots, vsFilters,
      ).orderBy(distance).orderBy(`e.${target.owner}`).limit(slots[n] as number)
      let query = kysely
        .with('ft', (qc) => qc.selectFrom(ftTop.as('c')).select(['c.id', sql`row_number() OVER (ORDER BY c.score DESC, c.id)`.as('rank')]))
        .with('vs', (qc) => qc.selectFrom(vsTop.as('c')).select(['c.id', sql`row_number() OVER (ORDER BY c.distance, c.id)`.as('rank')]))
        .with('fused', (qc) =>
          qc
            .selectFrom(qc.selectFrom('ft').select(['id', 'rank']).unionAll(qc.selectFrom('vs').select(['id', 'rank'])).as('u'))
            .select(['u.id', sql<number>`sum(1::float8 / (${sql.lit(RRF_K)} + u.rank))`.as('score')])
            .groupBy('u.id'),
        )
        .selectFrom('fused as f')
        .innerJoin(`${target.table} as t`, 't.id', 'f.id')
        .select(target.columns.map((c) => `t.${c}`))
        .select('f.score')
      if (after) query = query.where(afterScore('f.score', 't.id', slots, after))
      return query.orderBy('f.score', 'desc').orderBy('t.id').limit(slots[limit] as number)
    },
  }
}
