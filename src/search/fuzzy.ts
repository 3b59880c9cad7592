import { sql, type Kysely, type RawBuilder } from 'kysely'
import type { SearchRequest } from './search-options.js'
import type { SearchTarget } from './search-target.js'
import { afterScore, applyFilters, filterShape, filterSlots, SearchArgs, type SearchExtensions, type SearchStatement } from './sql-parts.js'

/**
 * The fuzzy (trigram) search statement over memories: `name % q OR q <% content` — the forms the
 * trigram GIN indexes `memories_name_trgm_idx` and `memories_content_trgm_idx` answer, with
 * pg_trgm's thresholds (`similarity_threshold` 0.3, `word_similarity_threshold` 0.6) — scored
 * `greatest(similarity(name, q), word_similarity(q, content))`, best first, then by id.
 *
 * @example
 * ```ts
 * const { shape, args, build } = fuzzyStatement(db.kysely, memoryTarget, request, { trgm: '"public"' })
 * ```
 */
export function fuzzyStatement(kysely: Kysely<any>, target: SearchTarget<unknown>, request: SearchRequest, ext: SearchExtensions): SearchStatement {
  const s = ext.trgm!
  const args = new SearchArgs()
  const q = args.add(request.text)
  const filters = filterSlots(request, args)
  const after = request.after ? ([args.add(request.after.score), args.add(request.after.id)] as const) : undefined
  const limit = args.add(request.limit + 1)
  return {
    shape: `${target.table}.search:fuzzy:${s}:${filterShape(request)}:${after ? 'after' : 'first'}`,
    args: args.values,
    build: (slots) => {
      const text = sql`${slots[q]}::text`
      const op = (name: string) => sql.raw(`OPERATOR(${s}.${name})`)
      const score: RawBuilder<number> = sql<number>`greatest(${sql.raw(s)}.similarity(t.name, ${text}), ${sql.raw(s)}.word_similarity(${text}, coalesce(t.content, '')))::float8`
      let query = kysely
        .selectFrom(`${target.table} as t`)
        .select(target.columns.map((c) => `t.${c}`))
        .select(score.as('score'))
        .where(sql<boolean>`(t.name ${op('%')} ${text} OR ${text} ${op('<%')} t.content)`)
      query = applyFilters(query, target, request, slots, filters)
      if (after) query = query.where(afterScore(score, 't.id', slots, after))
      return query.orderBy(sql`score`, 'desc').orderBy('t.id').limit(slots[limit] as number)
    },
  }
}
