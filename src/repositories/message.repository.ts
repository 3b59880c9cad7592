import { sql, type Kysely } from 'kysely'
import type { Database } from '../generated/database.js'
import {
  CreateMessageInput,
  Message,
  messageColumns,
  toMessage,
  UpdateMessageInput,
} from '../models/message.model.js'
import { ValidationError } from '../errors.js'
import { assertOptions, assertUuid, validateInput } from '../validation.js'
import { BaseRepository, encodeCursor, readLimit } from './base.repository.js'

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
const BULK_TARGET = sql.raw(BULK_COLUMNS.map(([f]) => MESSAGE_FIELDS[f]).join(', '))
const BULK_SELECT = sql.raw(
  BULK_COLUMNS.map(([f, , fallback]) => (fallback ? `coalesce(t.${f}, ${fallback})` : `t.${f}`)).join(', '),
)
const BULK_ALIAS = sql.raw(`t(${BULK_COLUMNS.map(([f]) => f).join(', ')}, ord)`)

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
    const row = await this.db
      .insertInto('messages')
      .values(this.toRow(valid) as never)
      .returning(messageColumns)
      .executeTakeFirstOrThrow()
    return toMessage(row)
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
    if (!Array.isArray(inputs) || inputs.length > MAX_BATCH) {
      throw new ValidationError(
        [{ field: 'inputs', messages: [`must be an array of at most ${MAX_BATCH} messages`] }],
        'messages.createMany',
      )
    }
    if (inputs.length === 0) return []
    const columns = BULK_COLUMNS.map(() => [] as unknown[])
    inputs.forEach((input, i) => {
      const valid = validateInput(CreateMessageInput, input, `messages.createMany[${i}]`) as unknown as Record<string, unknown>
      BULK_COLUMNS.forEach(([field, type], c) => {
        const value = valid[field]
        columns[c]!.push(value === undefined ? null : type === 'jsonb' ? JSON.stringify(value) : value)
      })
    })
    const arrays = sql.join(BULK_COLUMNS.map(([, type], c) => sql`${columns[c]}::${sql.raw(type)}[]`))
    const result = await sql<any>`
      INSERT INTO messages (${BULK_TARGET})
      SELECT ${BULK_SELECT} FROM unnest(${arrays}) WITH ORDINALITY AS ${BULK_ALIAS}
      ORDER BY t.ord
      RETURNING ${sql.join(messageColumns.map((c) => sql.ref(c)))}
    `.execute(this.db)
    return result.rows.map(toMessage)
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
    let query = this.db.selectFrom('messages').select(messageColumns).where('session_id', '=', sessionId)
    if (opts.cursor != null) {
      query = query.where('seq', order === 'asc' ? '>' : '<', String(this.decodeCursor(opts.cursor, context)))
    }
    const rows = await query.orderBy('seq', order).limit(limit + 1).execute()
    const more = rows.length > limit
    const items = (more ? rows.slice(0, limit) : rows).map(toMessage)
    const last = items[items.length - 1]
    return Object.assign(items, { nextCursor: more && last ? encodeCursor(last.seq) : null })
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
    let query = this.db.selectFrom('messages')
    if (sessionId !== undefined) {
      assertUuid(sessionId, 'sessionId', 'messages.count')
      query = query.where('session_id', '=', sessionId)
    }
    const row = await query.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
    return Number(row.n)
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
    const result = await this.db.deleteFrom('messages').where('session_id', '=', sessionId).executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}
