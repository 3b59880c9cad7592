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
import type { QueryContext } from '../execution/query-context.js'
import { BaseRepository, readLimit } from './base.repository.js'
import { cursorScope, encodeCursor, intKey, readCursor } from './cursor.js'

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
]

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
   * Writes one message; it takes its session's next `seq` (the trigger of migration 0002, under
   * the session row's lock until the transaction ends) and marks the session active
   * (`updatedAt`). A session id that does not exist fails with ForeignKeyError.
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

  /**
   * One statement for all rows: the rows come from `unnest(<one array per column>) WITH
   * ORDINALITY` (a fixed number of parameters whatever the row count). Each session's counter
   * `last_seq` is bumped once by its row count, its rows locked in id order (two batches over the
   * same sessions cannot deadlock each other), and the rows are inserted with explicit numbers,
   * `base + row_number()` in input order, so the per-row trigger does not fire. A row whose
   * session does not exist gets seq 0: the trigger then raises the foreign key error for it.
   * Columns no row sets are left out (their defaults apply); columns some rows set fall back to
   * the column default for the others. Rows are inserted, and returned, in input order.
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
    const columns = used.map(([field]) => MESSAGE_FIELDS[field])
    const shape = `messages.bulk:${returning ? 'returning' : 'count'}:${columns}`
    // Built with Kysely's builder, not one raw statement: a `withSchema` scope's plugin qualifies
    // the tables of builder nodes (it leaves a raw statement's `sql.table()` alone).
    return this.cached<any>(shape, arrays, (slots) => {
      const select = sql.raw(
        used
          .map(([field, , fallback], c) => `${fallback ? `coalesce(t.${field}, ${fallback})` : `t.${field}`} AS ${columns[c]}`)
          .join(', '),
      )
      const alias = sql.raw(`t(${used.map(([field]) => field).join(', ')}, ord)`)
      const unnest = sql.join(used.map(([, type], c) => sql`${slots[c]}::${sql.raw(type)}[]`))
      const insert = this.any
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
        .insertInto('messages')
        .columns([...columns, 'seq'])
        .expression((eb) =>
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
    const { rows } = await this.cached(shape, args, (slots) => {
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
