import { sql, type Kysely } from 'kysely'
import { vectorText } from './embedding-input.js'
import type { SearchRequest } from './search-options.js'
import type { SearchTarget } from './search-target.js'
import { applyFilters, distanceExpression, embeddedRows, filterShape, filterSlots, SearchArgs, type SearchExtensions, type SearchStatement } from './sql-parts.js'

/**
 * The vector search statement: the rows with an embedding of the request's model, nearest first
 * by cosine distance (`ORDER BY distance LIMIT n`: the model's HNSW index when there is one, so
 * approximate), scored `1 - distance` (cosine similarity), ties by id. The next page continues
 * after the last hit's (distance, id).
 *
 * @example
 * ```ts
 * const { shape, args, build } = vectorStatement(db.kysely, messageTarget, request, { vector: '"public"', dimension: 384 })
 * ```
 */
export function vectorStatement(kysely: Kysely<any>, target: SearchTarget<unknown>, request: SearchRequest, ext: SearchExtensions): SearchStatement {
  const args = new SearchArgs()
  const v = args.add(vectorText(request.vector!, true))
  const filters = filterSlots(request, args)
  const after = request.after ? ([args.add(request.after.extra), args.add(request.after.id)] as const) : undefined
  const limit = args.add(request.limit + 1)
  return {
    shape: `${target.table}.search:vector:${ext.vector}:${ext.dimension}:${request.model}:${filterShape(request)}:${after ? 'after' : 'first'}`,
    args: args.values,
    build: (slots) => {
      const distance = distanceExpression(slots[v], ext)
      let query = embeddedRows(kysely, target, request)
        .select(target.columns.map((c) => `t.${c}`))
        .select(sql<number>`(1 - ${distance})::float8`.as('score'))
        .select(sql<number>`${distance}::float8`.as('distance'))
      query = applyFilters(query, target, request, slots, filters)
      if (after) {
        query = query.where(sql<boolean>`(${distance}, e.${sql.raw(target.owner)}) > (${slots[after[0]]}::float8, ${slots[after[1]]}::uuid)`)
      }
      return query.orderBy(distance).orderBy(`e.${target.owner}`).limit(slots[limit] as number)
    },
  }
}
