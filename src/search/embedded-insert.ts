import { sql } from 'kysely'
import type { QueryContext } from '../execution/query-context.js'
import { vectorText, type EmbeddingInput } from './embedding-input.js'
import type { SearchTarget } from './search-target.js'

/**
 * Inserts a row (columns → values) and its embedding in ONE statement — the row in a
 * data-modifying CTE, the embedding from its RETURNING — and returns the row. The model must be
 * registered with the vector's dimension first ({@link ensureModel}).
 *
 * @example
 * ```ts
 * const row = await insertWithEmbedding(context, owner, messageSearchTarget, { session_id, role: 'user' }, { model: 'minilm', vector })
 * ```
 */
export async function insertWithEmbedding(
  context: QueryContext<any>, owner: object, target: SearchTarget<unknown>, row: Record<string, unknown>, embedding: EmbeddingInput,
): Promise<any> {
  const set = Object.keys(row)
  const { table, embeddings, owner: column, columns } = target
  const args = [...Object.values(row), embedding.model, embedding.vector.length, vectorText(embedding.vector)]
  const { rows } = await context.runCompiled<any>(`${table}.insertEmbedded:${set}`, args, (v) => {
    const [model, dim, vec] = v.slice(set.length)
    return context.kysely
      .with('r', (qc) =>
        qc
          .insertInto(table)
          .values(Object.fromEntries(set.map((c, i) => [c, v[i]])) as never)
          .returning(columns as never),
      )
      .with('e', (qc) =>
        qc
          .insertInto(embeddings)
          .columns([column, 'model', 'dimension', 'embedding'] as never)
          .expression((eb) => eb.selectFrom('r').select(['r.id', sql`${model}::text`.as('model'), sql`${dim}::int4`.as('dimension'), sql`${vec}::real[]`.as('embedding')]) as never),
      )
      .selectFrom('r')
      .selectAll()
  }, owner)
  return rows[0]
}
