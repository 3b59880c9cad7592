import { createHash } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import { FeatureUnavailableError, ValidationError } from '../errors.js'
import type { QueryContext } from '../execution/query-context.js'
import { atomically } from './atomic.js'

/** HNSW indexes (pgvector) are built for models of at most this many dimensions. */
export const MAX_HNSW_DIMENSION = 2000
/** The embedding tables: each model gets a partial HNSW index on both. */
export const EMBEDDING_TABLES = ['message_embeddings', 'memory_embeddings'] as const

/**
 * The name of a model's partial HNSW index on `table`: `<table>_hnsw_<first 16 hex of md5(model)>`.
 *
 * @example
 * ```ts
 * hnswIndexName('message_embeddings', 'minilm') // 'message_embeddings_hnsw_…'
 * ```
 */
export function hnswIndexName(table: string, model: string): string {
  return `${table}_hnsw_${createHash('md5').update(model).digest('hex').slice(0, 16)}`
}

/**
 * The dimension `model` is registered with, or undefined when it is not registered.
 *
 * @example
 * ```ts
 * const dim = await modelDimension(context, owner, 'minilm') // 384
 * ```
 */
export async function modelDimension(context: QueryContext<any>, owner: object, model: string): Promise<number | undefined> {
  const { rows } = await context.runCompiled<{ dimension: number }>('embedding_models.dimension', [model], ([name]) =>
    context.kysely.selectFrom('embedding_models').select('dimension').where('name', '=', name),
  )
  return rows[0]?.dimension
}

/**
 * The ValidationError of a vector whose dimension is not its model's.
 *
 * @example
 * ```ts
 * throw dimensionMismatch('vector', 'minilm', 384, 768, 'messages.search')
 * ```
 */
export function dimensionMismatch(field: string, model: string, registered: number, given: number, method: string): ValidationError {
  return new ValidationError(
    [{ field, messages: [`${field} has ${given} dimensions but model ${model} has ${registered}: a model has one dimension`] }],
    method,
  )
}

/**
 * Makes sure `model` is registered with `dimension`: a model already registered with another
 * dimension is a ValidationError (field `field`). The first use registers it — `INSERT …
 * ON CONFLICT DO NOTHING RETURNING name` — and the caller whose insert returned the row creates
 * the model's partial HNSW indexes on both embedding tables when pgvector is installed (and the
 * dimension is at most 2000), all in one transaction (a savepoint inside yours): a failure
 * leaves no registration and no index. A concurrent first use waits for that transaction.
 *
 * @example
 * ```ts
 * await ensureModel(context, owner, 'minilm', 384, 'vector', 'messages.setEmbedding')
 * ```
 */
export async function ensureModel(
  context: QueryContext<any>, owner: object, model: string, dimension: number, field: string, method: string,
): Promise<void> {
  let registered = await modelDimension(context, owner, model)
  if (registered === undefined) {
    const vector = await context.extension('vector').then((e) => e.schema, (err: unknown) => {
      if (err instanceof FeatureUnavailableError) return undefined
      throw err
    })
    const inserted = await atomically(context, (tx) => register(tx.kysely as Kysely<any>, model, dimension, vector))
    registered = inserted ? dimension : await modelDimension(context, owner, model)
  }
  if (registered !== dimension) throw dimensionMismatch(field, model, registered ?? 0, dimension, method)
}

async function register(kysely: Kysely<any>, model: string, dimension: number, vector: string | undefined): Promise<boolean> {
  const row = await kysely
    .insertInto('embedding_models')
    .values({ name: model, dimension })
    .onConflict((oc) => oc.doNothing())
    .returning('name')
    .executeTakeFirst()
  if (row === undefined) return false
  if (vector !== undefined) await createHnswIndexes(kysely, model, dimension, vector)
  return true
}

/** The model's partial HNSW indexes on both embedding tables (none above 2000 dimensions). */
async function createHnswIndexes(kysely: Kysely<any>, model: string, dimension: number, vector: string): Promise<void> {
  if (dimension > MAX_HNSW_DIMENSION) return
  for (const table of EMBEDDING_TABLES) {
    await kysely.schema
      .createIndex(hnswIndexName(table, model))
      .ifNotExists()
      .on(table)
      .using('hnsw')
      .expression(sql`(embedding::${sql.raw(`${vector}.vector(${dimension})`)}) ${sql.raw(`${vector}.vector_cosine_ops`)}`)
      .where(sql<boolean>`model = ${sql.lit(model)}`)
      .execute()
  }
}

/**
 * Builds the HNSW indexes of models registered while pgvector was missing, once it is installed
 * in the (quoted) schema `vector`: `db.migrate()` calls it through `ensureSearchIndexes`.
 *
 * @example
 * ```ts
 * await ensureHnswIndexes(kysely, '"public"')
 * ```
 */
export async function ensureHnswIndexes(kysely: Kysely<any>, vector: string): Promise<void> {
  const models = await kysely.selectFrom('embedding_models').select(['name', 'dimension']).execute()
  for (const { name, dimension } of models) await createHnswIndexes(kysely, name, dimension, vector)
}
