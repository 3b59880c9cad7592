import { sql, type Kysely } from 'kysely'
import type { Database } from '../generated/database.js'
import { rethrowTyped } from '../pg-errors.js'
import {
  CreateMessageInput,
  Message,
  messageColumns,
  toMessage,
  UpdateMessageInput,
} from '../models/message.model.js'
import { ValidationError } from '../errors.js'
import { assertOptions, assertUuid, validateInput } from '../validation.js'
import { BaseRepository, readLimit } from './base.repository.js'

/** Options of `messages.listBySession`. */
export interface ListBySessionOptions {
  /** At most this many messages (default 100, at most 1000). */
  limit?: number
  /** `nextCursor` of the previous call: continue after its last message. */
  cursor?: string | null
  /** `asc` (default): oldest first. `desc`: latest first. */
  order?: 'asc' | 'desc'
}

/** Messages of one call of `listBySession`, with the cursor of the next call (null at the end). */
export type MessageList = Message[] & { nextCursor: string | null }

/** Most rows one `createMany` call takes. */
export const MAX_BATCH = 100_000

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
} as const
const JSON_COLUMNS = new Set(['raw_payload', 'tool_calls', 'tool_outputs', 'context', 'channel_payload'])

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
]
const MESSAGE_RETURNING = sql.join(messageColumns.map((c) => sql.ref(c)))

/**
 * Messages of sessions, kept in the order they were written.
 *
 * @example
 * ```ts
 * await db.messages.create({ sessionId: session.id, role: 'user', textContent: 'Hello' })
 * const history = await db.messages.listBySession(session.id, { limit: 50, order: 'desc' })
 * ```
 */
export class MessageRepository extends BaseRepository<Message, string> {
  constructor(db: Kysely<Database>) {
    super(db, {
      table: 'messages',
      name: 'messages',
      columns: messageColumns,
      toEntity: toMessage,
      idKind: 'uuid',
      pageKey: { column: 'seq', kind: 'bigint', of: (m) => m.seq },
      fields: MESSAGE_FIELDS,
      json: JSON_COLUMNS,
      updateInput: UpdateMessageInput,
    })
  }

  /**
   * Writes one message. A session id that does not exist fails with ForeignKeyError.
   *
   * @example
   * ```ts
   * const m = await db.messages.create({ sessionId, role: 'assistant', textContent: 'Hi!', toolCalls: { search: {} } })
   * ```
   */
  async create(input: CreateMessageInput): Promise<Message> {
    const valid = validateInput(CreateMessageInput, input, 'messages.create')
    return this.insertOne(this.toRow(valid))
  }

  /**
   * Writes many messages in one statement (all or none) and returns them in input order; their
   * `seq` follows the input order, so history reads back as given.
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

  /**
   * One `INSERT … SELECT FROM unnest(<one array per column>) WITH ORDINALITY` for all rows: a
   * fixed number of parameters whatever the row count, rows written (and `seq` assigned) in
   * input order. Columns no row sets are left out (their defaults apply); columns some rows set
   * fall back to the column default for the others.
   */
  async #bulkInsert(inputs: readonly CreateMessageInput[], context: string, returning: boolean) {
    if (!Array.isArray(inputs) || inputs.length > MAX_BATCH) {
      throw new ValidationError([{ field: 'inputs', messages: [`must be an array of at most ${MAX_BATCH} messages`] }], context)
    }
    const valid = inputs.map(
      (input, i) => validateInput(CreateMessageInput, input, `${context}[${i}]`) as unknown as Record<string, unknown>,
    )
    if (valid.length === 0) return { rows: [], numAffectedRows: 0n }
    const used = BULK_COLUMNS.filter(([field]) => valid.some((row) => row[field] != null))
    const arrays = used.map(([field, type]) =>
      valid.map((row) => {
        const value = row[field]
        return value == null ? null : type === 'jsonb' ? JSON.stringify(value) : value
      }),
    )
    const target = sql.raw(used.map(([field]) => MESSAGE_FIELDS[field]).join(', '))
    const select = sql.raw(
      used.map(([field, , fallback]) => (fallback ? `coalesce(t.${field}, ${fallback})` : `t.${field}`)).join(', '),
    )
    const alias = sql.raw(`t(${used.map(([field]) => field).join(', ')}, ord)`)
    const unnest = sql.join(used.map(([, type], c) => sql`${arrays[c]}::${sql.raw(type)}[]`))
    return sql<any>`
      INSERT INTO messages (${target})
      SELECT ${select} FROM unnest(${unnest}) WITH ORDINALITY AS ${alias}
      ORDER BY t.ord
      ${returning ? sql`RETURNING ${MESSAGE_RETURNING}` : sql``}
    `.execute(this.db).catch(rethrowTyped)
  }

  /**
   * A session's messages in the order they were written: oldest first, or latest first with
   * `order: 'desc'`. Keyset-paged on an index, so the cost does not grow with the table. The
   * returned array carries `nextCursor` for the following call (null at the end).
   *
   * @example
   * ```ts
   * const last50 = (await db.messages.listBySession(sessionId, { limit: 50, order: 'desc' })).reverse()
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
    const after = opts.cursor == null ? undefined : this.decodeCursor(opts.cursor, context)
    const args = after === undefined ? [sessionId, limit + 1] : [sessionId, after, limit + 1]
    const shape = `messages.listBySession:${order}:${after === undefined ? 'first' : 'after'}`
    const { rows } = await this.cached(shape, args, (slots) => {
      let query = this.db.selectFrom('messages').select(messageColumns).where('session_id', '=', slots[0] as string)
      if (after !== undefined) query = query.where('seq', order === 'asc' ? '>' : '<', slots[1] as string)
      return query.orderBy('seq', order).limit(slots[slots.length - 1] as number)
    })
    const { items, nextCursor } = this.toPage(rows, limit)
    return Object.assign(items, { nextCursor })
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
    const { rows } = await this.cached('messages.count', [sessionId], ([id]) =>
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
}
