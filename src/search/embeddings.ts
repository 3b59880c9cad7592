import { sql } from 'kysely'
import { NotFoundError, ValidationError } from '../errors.js'
import type { QueryContext } from '../execution/query-context.js'
import { assertUuid } from '../validation.js'
import { embeddingReason, vectorText, type EmbeddingInput } from './embedding-input.js'
import { ensureModel } from './model-registry.js'
import type { SearchTarget } from './search-target.js'

/**
 * Checks an embedding input before any SQL; ValidationError naming `model` or `vector` when one
 * of them is bad, else `field` (e.g. `embedding`: not an object, unknown keys).
 *
 * @example
 * ```ts
 * const { model, vector } = readEmbedding(input, 'embedding', 'messages.setEmbedding')
 * ```
 */
export function readEmbedding(input: unknown, field: string, method: string): EmbeddingInput {
  const reason = embeddingReason(input)
  if (reason === undefined) return input as EmbeddingInput
  // `model …` / `vector …`: name that part; anything else is about the object itself.
  const part = /^(model|vector) /.exec(reason)?.[1]
  throw new ValidationError([{ field: part ?? field, messages: [part ? reason : `${field} ${reason}`] }], method)
}

/**
 * Stores the embedding of row `id` for its model (replacing the one it had for that model),
 * registering the model on first use. A row that does not exist (or an expired memory) is a
 * NotFoundError (nothing is written, and a transaction you are in carries on).
 *
 * @example
 * ```ts
 * await setEmbedding(context, owner, messageTarget, id, { model: 'minilm', vector })
 * ```
 */
export async function setEmbedding(
  context: QueryContext<any>, owner: object, target: SearchTarget<unknown>, id: string, input: EmbeddingInput,
): Promise<void> {
  const method = `${target.table}.setEmbedding`
  assertUuid(id, 'id', method)
  const { model, vector } = readEmbedding(input, 'embedding', method)
  await ensureModel(context, owner, model, vector.length, 'vector', method)
  const { embeddings, table, owner: column } = target
  const { rows } = await context.runCompiled(`${embeddings}.upsert`, [id, model, vector.length, vectorText(vector)], ([id, model, dim, vec]) =>
    context.kysely
      .insertInto(embeddings)
      .columns([column, 'model', 'dimension', 'embedding'])
      .expression((eb) => {
        const row = eb
          .selectFrom(`${table} as t`)
          .select(['t.id', sql`${model}::text`.as('model'), sql`${dim}::int4`.as('dimension'), sql`${vec}::real[]`.as('embedding')])
          .where('t.id', '=', id)
        return target.live === undefined ? row : row.where(target.live)
      })
      .onConflict((oc) => oc.columns([column, 'model']).doUpdateSet({ embedding: sql.ref('excluded.embedding'), dimension: sql.ref('excluded.dimension') }))
      .returning(column),
    owner,
  )
  if (rows.length === 0) throw new NotFoundError(`${method}: no row with id ${id}`, { table })
}
