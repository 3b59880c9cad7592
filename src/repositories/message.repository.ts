import type { Kysely } from 'kysely'
import type { Database } from '../generated/database.js'
import {
  CreateMessageInput,
  Message,
  type MessageRole,
  messageColumns,
  toMessage,
  UpdateMessageInput,
} from '../models/message.model.js'
import { ValidationError } from '../errors.js'
import { assertOptions, assertUuid, validateInput } from '../validation.js'
import type { QueryContext } from '../execution/query-context.js'
import { BaseRepository, readLimit } from './base.repository.js'
import { cursorScope, encodeCursor, intKey, readCursor } from './cursor.js'
import { bulkInsertMessages } from './message-bulk-insert.js'
import { pruneMessages, type PruneOptions } from './message-retention.js'
import type { EmbeddingInput } from '../search/embedding-input.js'
import { insertWithEmbedding } from '../search/embedded-insert.js'
import { setEmbedding } from '../search/embeddings.js'
import type { SearchHits } from '../search/hits.js'
import { ensureModel } from '../search/model-registry.js'
import { runSearch } from '../search/run-search.js'
import type { SearchOptionsBase } from '../search/search-options.js'
import { messageSearchTarget } from '../search/targets.js'

/** Options of `messages.listBySession`. */
export interface ListBySessionOptions {
  /** At most this many messages (default 100, at most 1000). */
  limit?: number
  /** `nextCursor` of the previous call: continue after its last message. */
  cursor?: string | null
  /** `asc` (default): oldest first. `desc`: latest first. */
  order?: 'asc' | 'desc'
}

/**
 * Messages of one call of `listBySession`, with the cursor of the next call (`nextCursor`, null
 * at the end) and the position reached (`endCursor`): where a follower resumes to read the
 * messages written later.
 */
export type MessageList = Message[] & {
  /** Pass as `cursor` for the next page; null when this call reached the last message. */
  nextCursor: string | null
  /**
   * The cursor after the last message of this call (the `cursor` given when there was none; null
   * when nothing was read from the start). Unlike `nextCursor` it is set at the end too: a
   * follower passes it to read what was written since, and never misses or repeats a message.
   */
  endCursor: string | null
}

export { MAX_BATCH } from './message-bulk-insert.js'
export type { PruneOptions } from './message-retention.js'

const MESSAGE_FIELDS = {
  id: 'id',
  sessionId: 'session_id',
  userId: 'user_id',
  agentId: 'agent_id',
  role: 'role',
  textContent: 'text_content',
  mediaUrl: 'media_url',
  mimeType: 'mime_type',
  messageType: 'message_type',
  systemPrompt: 'system_prompt',
  userFeedback: 'user_feedback',
  flagged: 'flagged',
  rawPayload: 'raw_payload',
  toolCalls: 'tool_calls',
  toolOutputs: 'tool_outputs',
  context: 'context',
  channelPayload: 'channel_payload',
  createdAt: 'created_at',
  tokenCount: 'token_count',
} as const
const JSON_COLUMNS: ReadonlySet<string> = new Set(['raw_payload', 'tool_calls', 'tool_outputs', 'context', 'channel_payload'])

/** Column, its array type for unnest, and the default used when a row leaves it out. */
const BULK_COLUMNS: readonly (readonly [field: keyof typeof MESSAGE_FIELDS, type: string, fallback?: string])[] = [
  ['id', 'uuid', 'gen_random_uuid()'],
  ['sessionId', 'uuid'],
  ['userId', 'int4'],
  ['agentId', 'int4'],
  ['role', 'text'],
  ['textContent', 'text'],
  ['mediaUrl', 'text'],
  ['mimeType', 'text'],
  ['messageType', 'text'],
  ['systemPrompt', 'text'],
  ['userFeedback', 'text'],
  ['flagged', 'text'],
  ['rawPayload', 'jsonb', "'{}'::jsonb"],
  ['toolCalls', 'jsonb', "'{}'::jsonb"],
  ['toolOutputs', 'jsonb', "'{}'::jsonb"],
  ['context', 'jsonb', "'{}'::jsonb"],
  ['channelPayload', 'jsonb', "'{}'::jsonb"],
  ['createdAt', 'timestamptz', 'now()'],
  // NULL when a row leaves it out: the row trigger estimates it (it fires for INSERT … SELECT too).
  ['tokenCount', 'int4'],
]

/** Options of `messages.search`: the query, its mode, and scope filters (left out = any, null = IS NULL). */
export interface MessageSearchOptions extends SearchOptionsBase {
  /** Default: `fulltext` with only `text`, `vector` with only `vector`, `hybrid` with both. */
  mode?: 'fulltext' | 'vector' | 'hybrid'
  sessionId?: string | null
  userId?: number | null
  agentId?: number | null
  role?: MessageRole | null
}

/**
 * Messages of sessions, kept in the order they were written.
 *
 * @example
 * ```ts
 * await db.messages.create({ sessionId: session.id, role: 'user', textContent: 'Hello' })
 * const history = await db.messages.listBySession(session.id, { limit: 50, order: 'desc' })
 * ```
 */
export class MessageRepository extends BaseRepository<Message, string, Database, UpdateMessageInput> {
  constructor(executor: Kysely<Database> | QueryContext) {
    super(executor, {
      table: 'messages',
      name: 'messages',
      columns: messageColumns,
      toEntity: toMessage,
      idKind: 'uuid',
      // seq is unique only within a session: page() walks the table by id.
      pageKey: { column: 'id', kind: 'uuid', of: (m) => m.id },
      fields: MESSAGE_FIELDS,
      json: JSON_COLUMNS,
      updateInput: UpdateMessageInput,
    })
  }

  /**
   * The columns of an input; when the text or tool fields are written without `tokenCount`,
   * `token_count` is NULL, which the trigger of migration 0003 replaces by the estimate: an
   * update of the text re-estimates the count, and a count given with it is kept as given.
   */
  protected override toRow(input: object): Record<string, unknown> {
    const row = super.toRow(input)
    const changesText = row.text_content !== undefined || row.tool_calls !== undefined || row.tool_outputs !== undefined
    if (changesText && row.token_count === undefined) row.token_count = null
    return row
  }

  /**
   * Writes one message; it takes its session's next `seq` (the trigger of migration 0002, under
   * the session row's lock until the transaction ends) and marks the session active
   * (`updatedAt`). A session id that does not exist fails with ForeignKeyError.
   * With `embedding: { model, vector }` the message and its embedding are written by one
   * statement (see {@link setEmbedding}).
   *
   * @example
   * ```ts
   * const m = await db.messages.create({ sessionId, role: 'assistant', textContent: 'Hi!', toolCalls: { search: {} } })
   * ```
   */
  async create(input: CreateMessageInput): Promise<Message> {
    const valid = validateInput(CreateMessageInput, input, 'messages.create')
    if (valid.embedding === undefined) return this.insertOne(this.toRow(valid))
    const embedding = valid.embedding
    await ensureModel(this.context, this.constructor, embedding.model, embedding.vector.length, 'embedding.vector', 'messages.create')
    return toMessage(await insertWithEmbedding(this.context, this.constructor, messageSearchTarget, this.toRow(valid), embedding))
  }

  /**
   * Writes many messages in one statement (all or none) and returns them in input order; in each
   * session their `seq` follows the input order, so history reads back as given. Each session
   * involved is marked active. A session id that does not exist fails with ForeignKeyError.
   *
   * @example
   * ```ts
   * await db.messages.createMany([
   *   { sessionId, role: 'user', textContent: 'What is 2+2?' },
   *   { sessionId, role: 'assistant', textContent: '4' },
   * ])
   * ```
   */
  async createMany(inputs: readonly CreateMessageInput[]): Promise<Message[]> {
    const result = await this.#bulkInsert(inputs, 'messages.createMany', true)
    return result.rows.map(toMessage)
  }

  /**
   * Like {@link createMany} but returns only how many rows were written: for bulk loads (history
   * imports) where reading 100k rows back would cost more than writing them.
   *
   * @example
   * ```ts
   * const written = await db.messages.insertMany(importedHistory) // 100_000
   * ```
   */
  async insertMany(inputs: readonly CreateMessageInput[]): Promise<number> {
    const result = await this.#bulkInsert(inputs, 'messages.insertMany', false)
    return Number(result.numAffectedRows ?? 0n)
  }

  /** See {@link bulkInsertMessages}. */
  #bulkInsert(inputs: readonly CreateMessageInput[], context: string, returning: boolean) {
    return bulkInsertMessages(
      {
        kysely: this.any,
        run: (shape, args, build) => this.cached(shape, args, build),
        fields: MESSAGE_FIELDS,
        columns: BULK_COLUMNS,
        ensureModels: async (models, method) => {
          for (const [model, dim] of models) await ensureModel(this.context, this.constructor, model, dim, 'embedding.vector', method)
        },
      },
      inputs,
      context,
      returning,
    )
  }

  /**
   * Messages matching a query, best first (`{ item, score }`, higher is better in every mode).
   * `fulltext` (default with `text`): web-search syntax (`"exact phrase"`, `-word`, `or`) over
   * the text with the `english` configuration (stemmed: "refunds" finds "refund"), scored by
   * `ts_rank_cd`. `vector` (default with `vector` + `model`): cosine similarity to the messages'
   * embeddings of that model (HNSW, approximate). `hybrid` (both): the two rankings fused by
   * reciprocal rank. Vector and hybrid need pgvector: FeatureUnavailableError without it
   * (`db.features.vector`). Default limit 20, at most 1000; the array carries `nextCursor`.
   *
   * @example
   * ```ts
   * const hits = await db.messages.search({ text: 'refund -paypal', sessionId, limit: 10 })
   * for (const { item, score } of hits) console.log(score.toFixed(3), item.textContent)
   * const more = hits.nextCursor ? await db.messages.search({ text: 'refund -paypal', sessionId, cursor: hits.nextCursor }) : []
   * const similar = await db.messages.search({ vector: queryVector, model: 'minilm', userId })
   * ```
   */
  search(options: MessageSearchOptions): Promise<SearchHits<Message>> {
    return runSearch(this.context, this.constructor, messageSearchTarget, options)
  }

  /**
   * Stores the message's embedding for `model` (replacing its earlier one for that model). The
   * first vector of a model registers it with its dimension: later vectors of another dimension
   * are a ValidationError. A message that does not exist is a NotFoundError. Deleting the
   * message deletes its embeddings. Works without pgvector (searching needs it).
   *
   * @example
   * ```ts
   * await db.messages.setEmbedding(message.id, { model: 'text-embedding-3-small', vector: await embed(message.textContent) })
   * ```
   */
  setEmbedding(id: string, embedding: EmbeddingInput): Promise<void> {
    return setEmbedding(this.context, this.constructor, messageSearchTarget, id, embedding)
  }

  /**
   * A session's messages in the order they were written (`seq`, which within a session is commit
   * order): oldest first, or latest first with `order: 'desc'`. Keyset-paged on the index
   * `(session_id, seq)`, so the cost does not grow with the table. The returned array carries
   * `nextCursor` for the following call (null at the end) and `endCursor`, the position reached:
   * a follower that keeps passing `endCursor` sees every message written to the session exactly
   * once, also while other transactions are appending to it.
   *
   * @example
   * ```ts
   * const last50 = (await db.messages.listBySession(sessionId, { limit: 50, order: 'desc' })).reverse()
   *
   * // following a conversation
   * let cursor: string | null = null
   * for (;;) {
   *   const page = await db.messages.listBySession(sessionId, { cursor })
   *   for (const m of page) console.log(m.role, m.textContent)
   *   cursor = page.endCursor
   *   if (page.nextCursor === null) await new Promise((r) => setTimeout(r, 1000)) // caught up: poll again
   * }
   * ```
   */
  async listBySession(sessionId: string, options: ListBySessionOptions = {}): Promise<MessageList> {
    const context = 'messages.listBySession'
    assertUuid(sessionId, 'sessionId', context)
    const opts = assertOptions(options, ['limit', 'cursor', 'order'], context)
    const limit = readLimit(opts.limit, context)
    const order = opts.order ?? 'asc'
    if (order !== 'asc' && order !== 'desc') {
      throw new ValidationError([{ field: 'order', messages: ["order must be 'asc' or 'desc'"] }], context)
    }
    // The cursor names the session, not the order: a position from either direction works in both.
    const scope = cursorScope(context, [sessionId.toLowerCase()])
    const after = readCursor(opts.cursor, scope, context, ([seq, ...rest]) => (rest.length ? undefined : [intKey(seq, context)]))?.[0]
    const args = after === undefined ? [sessionId, limit + 1] : [sessionId, after, limit + 1]
    const shape = `messages.listBySession:${order}:${after === undefined ? 'first' : 'after'}`
    const { rows } = await this.cachedRead(shape, args, (slots) => {
      let query = this.db.selectFrom('messages').select(messageColumns).where('session_id', '=', slots[0] as string)
      if (after !== undefined) query = query.where('seq', order === 'asc' ? '>' : '<', slots[1] as string)
      return query.orderBy('seq', order).limit(slots[slots.length - 1] as number)
    })
    const { items, nextCursor } = this.toPage(rows, limit, (_, m: Message) => encodeCursor(scope, [m.seq]))
    const last = items[items.length - 1]
    const endCursor = last === undefined ? (after === undefined ? null : encodeCursor(scope, [after as number])) : encodeCursor(scope, [last.seq])
    return Object.assign(items, { nextCursor, endCursor })
  }

  /**
   * How many messages a session has (all messages when no session is given).
   *
   * @example
   * ```ts
   * const n = await db.messages.count(sessionId)
   * ```
   */
  override async count(sessionId?: string): Promise<number> {
    if (sessionId === undefined) return super.count()
    assertUuid(sessionId, 'sessionId', 'messages.count')
    const { rows } = await this.cachedRead('messages.count', [sessionId], ([id]) =>
      this.db
        .selectFrom('messages')
        .where('session_id', '=', id as string)
        .select((eb) => eb.fn.countAll<string>().as('n')),
    )
    return Number(rows[0]!.n)
  }

  /**
   * Deletes every message of a session; returns how many were deleted.
   *
   * @example
   * ```ts
   * const removed = await db.messages.deleteBySession(sessionId)
   * ```
   */
  async deleteBySession(sessionId: string): Promise<number> {
    assertUuid(sessionId, 'sessionId', 'messages.deleteBySession')
    const result = await this.cached('messages.deleteBySession', [sessionId], ([id]) =>
      this.db.deleteFrom('messages').where('session_id', '=', id as string),
    )
    return Number(result.numAffectedRows ?? 0n)
  }

  /**
   * Deletes old history: in every session, the messages before its first message (in `seq`
   * order) with `createdAt >= olderThan`. Only a prefix of a session goes, so what stays is
   * contiguous; an old message written after a newer one stays. Runs in batches of `batchSize`
   * (default 5000), each one statement that commits on its own (no long lock, safe while writers
   * append); on a transaction's Db the batches run in that transaction. `seq` numbers are never
   * reused (`sessions.last_seq` is unchanged). Embeddings go with their messages. Returns the count.
   *
   * @example
   * ```ts
   * const removed = await db.messages.prune({ olderThan: new Date(Date.now() - 90 * 24 * 3600 * 1000) })
   * ```
   */
  prune(options: PruneOptions): Promise<number> {
    return pruneMessages(this.context, this.constructor, options)
  }
}
