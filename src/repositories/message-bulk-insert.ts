import { sql, type Compilable, type Kysely, type QueryResult } from 'kysely'
import { CreateMessageInput, messageColumns } from '../models/message.model.js'
import { ValidationError } from '../errors.js'
import { validateInput } from '../validation.js'
import { vectorText, type EmbeddingInput } from '../search/embedding-input.js'
import { checkBatchEmbeddings } from '../search/batch-embeddings.js'

/** Most rows one `createMany` call takes. */
export const MAX_BATCH = 100_000

/** A column of the bulk insert: its input field, its array type for unnest, and the default used when a row leaves it out. */
export type BulkColumn = readonly [field: string, type: string, fallback?: string]

/** What the bulk insert needs of the message repository. */
export interface BulkInsertParts {
  readonly kysely: Kysely<any>
  /** The repository's `cached`: runs a statement compiled once per shape. */
  run<R>(shape: string, args: readonly unknown[], build: (slots: readonly unknown[]) => Compilable<R>): Promise<QueryResult<R>>
  /** input field → column. */
  readonly fields: Readonly<Record<string, string>>
  readonly columns: readonly BulkColumn[]
  /** Registers the batch's embedding models (first use) once the inputs are valid. */
  ensureModels(models: ReadonlyMap<string, number>, method: string): Promise<void>
}

/**
 * One statement for all rows: the rows come from `unnest(<one array per column>) WITH
 * ORDINALITY` (a fixed number of parameters whatever the row count). Each session's counter
 * `last_seq` is bumped once by its row count, its rows locked in id order (two batches over the
 * same sessions cannot deadlock each other), and the rows are inserted with explicit numbers,
 * `base + row_number()` in input order, so the per-row trigger does not fire. A row whose
 * session does not exist gets seq 0: the trigger then raises the foreign key error for it.
 * Columns no row sets are left out (their defaults apply); columns some rows set fall back to
 * the column default for the others. Rows are inserted, and returned, in input order. Rows with
 * an `embedding` have it written by the same statement (a CTE over the rows, whose ids are
 * computed first); their models are checked (one dimension per model) before any SQL.
 *
 * @example
 * ```ts
 * const { rows } = await bulkInsertMessages(parts, inputs, 'messages.createMany', true)
 * ```
 */
export async function bulkInsertMessages(parts: BulkInsertParts, inputs: readonly CreateMessageInput[], context: string, returning: boolean) {
  if (!Array.isArray(inputs) || inputs.length > MAX_BATCH) {
    throw new ValidationError([{ field: 'inputs', messages: [`must be an array of at most ${MAX_BATCH} messages`] }], context)
  }
  const valid = inputs.map(
    (input, i) => validateInput(CreateMessageInput, input, `${context}[${i}]`) as unknown as Record<string, unknown>,
  )
  if (valid.length === 0) return { rows: [], numAffectedRows: 0n }
  const embeddings = valid.map((row) => row.embedding as EmbeddingInput | undefined)
  const models = checkBatchEmbeddings(embeddings, context)
  const embedded = models.size > 0
  // With embeddings, ids are computed in `i` (the embeddings CTE needs them).
  const used = parts.columns.filter(([field]) => (embedded && field === 'id') || valid.some((row) => row[field] != null))
  const arrays: unknown[][] = used.map(([field, type]) =>
    valid.map((row) => {
      const value = row[field]
      return value == null ? null : type === 'jsonb' ? JSON.stringify(value) : value
    }),
  )
  const extra: BulkColumn[] = embedded ? [['emb_model', 'text'], ['emb_dim', 'int4'], ['emb_vector', 'text']] : []
  if (embedded) {
    arrays.push(embeddings.map((e) => e?.model ?? null), embeddings.map((e) => e?.vector.length ?? null), embeddings.map((e) => (e ? vectorText(e.vector) : null)))
    await parts.ensureModels(models, context)
  }
  const columns = used.map(([field]) => parts.fields[field]!)
  const shape = `messages.bulk:${returning ? 'returning' : 'count'}:${columns}:${embedded ? 'embedded' : ''}`
  // Built with Kysely's builder, not one raw statement: a `withSchema` scope's plugin qualifies
  // the tables of builder nodes (it leaves a raw statement's `sql.table()` alone).
  return parts.run<any>(shape, arrays, (slots) => {
    const select = sql.raw(
      [
        ...used.map(([field, , fallback], c) => `${fallback ? `coalesce(t.${field}, ${fallback})` : `t.${field}`} AS ${columns[c]}`),
        ...extra.map(([field]) => `t.${field}`),
      ].join(', '),
    )
    const all = [...used, ...extra]
    const alias = sql.raw(`t(${all.map(([field]) => field).join(', ')}, ord)`)
    const unnest = sql.join(all.map(([, type], c) => sql`${slots[c]}::${sql.raw(type)}[]`))
    let query: any = parts.kysely
      // The typings take only builders here; Kysely accepts any expression (a raw one: in parentheses).
      .with('i', sql`(SELECT ${select}, t.ord FROM unnest(${unnest}) WITH ORDINALITY AS ${alias})` as never)
      .with('counts', (qc) => qc.selectFrom('i').select(['session_id', sql`count(*)`.as('n')]).groupBy('session_id'))
      .with(
        (cte) => cte('locked').materialized(),
        (qc) =>
          qc
            .selectFrom('sessions as s')
            .select('s.id')
            .where('s.id', 'in', qc.selectFrom('counts').select('session_id'))
            .orderBy('s.id')
            .forNoKeyUpdate(),
      )
      .with('bases', (qc) =>
        qc
          .updateTable('sessions as s')
          .set({ last_seq: sql`s.last_seq + c.n` })
          .from('counts as c')
          .innerJoin('locked as l', 'l.id', 'c.session_id')
          .whereRef('s.id', '=', 'c.session_id')
          .returning(['s.id', sql`s.last_seq - c.n`.as('base')]),
      )
    if (embedded) {
      query = query.with('embedded', (qc: any) =>
        qc
          .insertInto('message_embeddings')
          .columns(['message_id', 'model', 'dimension', 'embedding'])
          .expression((eb: any) =>
            eb.selectFrom('i').select(['i.id', 'i.emb_model', 'i.emb_dim', sql`i.emb_vector::real[]`.as('embedding')]).where('i.emb_model', 'is not', null),
          ),
      )
    }
    const insert = query
      .insertInto('messages')
      .columns([...columns, 'seq'])
      .expression((eb: any) =>
        eb
          .selectFrom('i')
          .leftJoin('bases as b', 'b.id', 'i.session_id')
          .select([
            ...columns.map((c) => `i.${c}`),
            sql`coalesce(b.base + row_number() OVER (PARTITION BY i.session_id ORDER BY i.ord), 0)`.as('seq'),
          ])
          .orderBy('i.ord'),
      )
    return returning ? insert.returning(messageColumns) : insert
  })
}
