import { Kysely, sql, type RawBuilder } from 'kysely'
import type { Database } from '../generated/database.js'
import { ValidationError } from '../errors.js'
import { kyselyContext, readOn, type QueryContext } from '../execution/query-context.js'
import { parseTimestamptz } from '../execution/type-parsers.js'
import { Agent, agentColumns, toAgent } from '../models/agent.model.js'
import { Memory, memoryColumns, toMemory, type ReadMode } from '../models/memory.model.js'
import { Message, messageColumns, toMessage } from '../models/message.model.js'
import { Session, sessionColumns, toSession } from '../models/session.model.js'
import { toUser, User, userColumns } from '../models/user.model.js'
import { assertOptions, assertUuid } from '../validation.js'
import { effectiveQuery, readReadMode } from './memory-scope.js'

/** Options of `context.load`. */
export interface ContextOptions {
  /** Most tokens the messages may add up to (their `tokenCount`); no budget when left out. */
  maxTokens?: number
  /** Most messages (default 50, at most 1000). */
  maxMessages?: number
  /** The read mode of the memories (default `system_prompt`). */
  readMode?: ReadMode
}

/** What an agent needs for one turn of a session, read in one statement. */
export interface TurnContext {
  session: Session
  /** The session's agent; null when the session has none. */
  agent: Agent | null
  /** The session's user; null when the session has none. */
  user: User | null
  /** The effective memories of the session's agent, user and session in the read mode, by name. */
  memories: Memory[]
  /** The newest messages that fit the limits, oldest first. */
  messages: Message[]
  /** The sum of the returned messages' `tokenCount`. */
  tokenCount: number
  /** True when older messages were left out (the next older one would break a limit). */
  truncated: boolean
}

/** Default and largest `maxMessages`. */
export const DEFAULT_CONTEXT_MESSAGES = 50
export const MAX_CONTEXT_MESSAGES = 1000

const CONTEXT = 'context.load'
const OPTION_KEYS = ['maxTokens', 'maxMessages', 'readMode'] as const

/**
 * An entity as a JSON object built in SQL: its columns by name, timestamps as their text (parsed
 * by the driver's timestamptz parser in {@link fromJson}, so values equal the repositories').
 * Null when the joined row is missing.
 */
function jsonOf(alias: string, columns: readonly string[], timestamps: ReadonlySet<string>): RawBuilder<unknown> {
  const pairs = columns.map((c) => {
    const ref = sql.ref(`${alias}.${c}`)
    return sql`${sql.lit(c)}, ${timestamps.has(c) ? sql`${ref}::text` : ref}`
  })
  return sql`CASE WHEN ${sql.ref(`${alias}.id`)} IS NULL THEN NULL ELSE json_build_object(${sql.join(pairs)}) END`
}

const STAMPS: ReadonlySet<string> = new Set(['created_at', 'updated_at'])
const SESSION_STAMPS: ReadonlySet<string> = new Set(['created_at', 'updated_at', 'run_finished_at'])
const MEMORY_STAMPS: ReadonlySet<string> = new Set(['created_at', 'updated_at', 'expires_at'])

/** A row of {@link jsonOf}, its timestamps parsed back into what the driver gives. */
function fromJson(row: Record<string, unknown>, timestamps: ReadonlySet<string>): any {
  for (const column of timestamps) {
    const text = row[column]
    if (typeof text === 'string') row[column] = parseTimestamptz(text)
  }
  return row
}

/**
 * The context of one turn of a session in one round trip: the session, its agent and user, the
 * effective memories (see `memories.effective`) and the newest messages that fit a budget.
 * It has no table of its own: it reads the others' in one statement whose messages come back
 * as ordinary rows (parsed as `messages.listBySession`'s are) and whose other entities come in
 * one JSON column of one more row, with their timestamps as text parsed by the driver's parser:
 * every entity is the same class, with the same values, as the repositories return.
 *
 * @example
 * ```ts
 * const ctx = await db.context.load(sessionId, { maxTokens: 8000 })
 * if (ctx) prompt(ctx.agent?.systemPrompt, ctx.memories, ctx.messages)
 * ```
 */
export class ContextRepository {
  /** Where the statement runs. */
  protected readonly context: QueryContext

  constructor(executor: Kysely<Database> | QueryContext) {
    this.context = executor instanceof Kysely ? kyselyContext(executor) : executor
  }

  /**
   * The session with its agent, user, memories and newest messages, or null when there is no
   * session with this id. `messages` are the newest of the session, oldest first: a contiguous
   * run of at most `maxMessages` (default 50) whose `tokenCount`s add up to at most `maxTokens`
   * (when given); a large message is never skipped to fit an older one. `truncated` says that
   * older messages were left out. `memories` are the effective set of the session's agent, user
   * and session in `readMode` (default `system_prompt`), one per name, by name. One statement.
   *
   * @example
   * ```ts
   * const ctx = await db.context.load(sessionId, { maxTokens: 4000, maxMessages: 100 })
   * if (ctx === null) throw new Error('no such session')
   * console.log(ctx.tokenCount, ctx.truncated, ctx.messages.at(-1)?.textContent)
   * ```
   */
  async load(sessionId: string, options: ContextOptions = {}): Promise<TurnContext | null> {
    assertUuid(sessionId, 'sessionId', CONTEXT)
    const o = assertOptions(options, OPTION_KEYS, CONTEXT)
    const maxMessages = readCount(o.maxMessages, 'maxMessages', MAX_CONTEXT_MESSAGES) ?? DEFAULT_CONTEXT_MESSAGES
    const maxTokens = readCount(o.maxTokens, 'maxTokens', Number.MAX_SAFE_INTEGER)
    const readMode = readReadMode(o.readMode, CONTEXT) ?? 'system_prompt'
    const args: unknown[] = [readMode, sessionId, maxMessages + 1]
    if (maxTokens !== undefined) args.push(maxTokens)
    const shape = `context.load:${maxTokens === undefined ? 'count' : 'budget'}`
    const { rows } = await readOn(this.context, (context) => context.runCompiled<any>(shape, args, (slots) => this.#query(slots), ContextRepository))
    let head: Record<string, any> | undefined
    const kept: Message[] = []
    let tokenCount = 0
    for (const row of rows) {
      if (row.id === null) {
        head = row.head
      } else {
        const message = toMessage(row)
        kept.push(message)
        tokenCount += message.tokenCount
      }
    }
    if (head === undefined) return null
    kept.sort((a, b) => a.seq - b.seq)
    // The messages sent are the newest ones, contiguous. The oldest of them may be the first one
    // past a limit, sent only to tell that older messages exist: the (maxMessages + 1)-th newest,
    // or the one that makes the sum exceed the budget (only the oldest can).
    const truncated = kept.length > maxMessages || (maxTokens !== undefined && tokenCount > maxTokens)
    if (truncated) tokenCount -= kept.shift()!.tokenCount
    return {
      session: toSession(fromJson(head.session, SESSION_STAMPS)),
      agent: head.agent === null ? null : toAgent(fromJson(head.agent, STAMPS)),
      user: head.user === null ? null : toUser(fromJson(head.user, STAMPS)),
      memories: (head.memories as Record<string, unknown>[]).map((m) => toMemory(fromJson(m, MEMORY_STAMPS))),
      messages: kept,
      tokenCount,
      truncated,
    }
  }

  /**
   * The statement: one row for the head (a JSON object with the session, agent, user and
   * memories; no row for an unknown session) and one per message (in no particular order: the
   * caller sorts them). The messages are the newest `maxMessages + 1` of the session (a backward
   * scan of `(session_id, seq)` that stops at the limit); with `maxTokens`, those whose newer
   * messages add up to at most `maxTokens` (a running sum, newest first): the messages that fit
   * plus the first one that does not, if any, which tells that older messages were left out.
   * The messages are neither sorted nor materialised in SQL, and each part is read once.
   */
  #query(slots: readonly unknown[]) {
    const [readMode, sessionId, fetch, maxTokens] = slots
    const db = this.context.kysely as unknown as Kysely<any>
    const effective = effectiveQuery(db, { agentId: sql.ref('s.agent_id'), userId: sql.ref('s.user_id'), sessionId: sql.ref('s.id') }, readMode)
    // json_agg of rows (cheaper than one json_build_object per memory), timestamps as text.
    const memories = db
      .selectFrom(effective.as('e2'))
      .select(memoryColumns.map((c) => (MEMORY_STAMPS.has(c) ? sql`${sql.ref(`e2.${c}`)}::text`.as(c) : `e2.${c}`)))
    const head = sql`json_build_object(
      'session', ${jsonOf('s', sessionColumns, SESSION_STAMPS)},
      'agent', ${jsonOf('a', agentColumns, STAMPS)},
      'user', ${jsonOf('u', userColumns, STAMPS)},
      'memories', (SELECT coalesce(json_agg(x ORDER BY x.name), '[]'::json) FROM (${memories}) x))`
    const budget = maxTokens !== undefined
    let newest = db.selectFrom('messages').select(messageColumns)
    if (budget) newest = newest.select(sql`sum(token_count) OVER (ORDER BY seq DESC ROWS UNBOUNDED PRECEDING)`.as('running'))
    newest = newest.where('session_id', '=', sessionId).orderBy('seq', 'desc').limit(fetch as number)
    let kept = db.selectFrom(newest.as('n')).select([...messageColumns, sql<null>`NULL::json`.as('head')])
    if (budget) kept = kept.where(sql`running - token_count`, '<=', maxTokens)
    return db
      .selectFrom('sessions as s')
      .leftJoin('agents as a', 'a.id', 's.agent_id')
      .leftJoin('users as u', 'u.id', 's.user_id')
      .where('s.id', '=', sessionId)
      .select([...messageColumns.map((c) => sql`NULL`.as(c)), head.as('head')])
      .unionAll(kept)
  }
}

/** An optional count option: undefined, or an integer from 0 to `max`. */
function readCount(value: unknown, field: string, max: number): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new ValidationError([{ field, messages: [`${field} must be an integer from 0 to ${max}`] }], CONTEXT)
  }
  return value
}
