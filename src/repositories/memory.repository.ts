import type { Kysely, SelectQueryBuilder } from 'kysely'
import type { Database } from '../generated/database.js'
import {
  ACCESS_MODES,
  CreateMemoryInput,
  Memory,
  memoryColumns,
  READ_MODES,
  toMemory,
  UpdateMemoryInput,
  type Access,
  type ReadMode,
} from '../models/memory.model.js'
import { ConflictError, ForeignKeyError, ValidationError } from '../errors.js'
import { assertId, assertOptions, assertText, assertUuid, validateInput } from '../validation.js'
import type { QueryContext } from '../execution/query-context.js'
import { asListPage, BaseRepository, readLimit, whereEq, type ListOptions, type ListPage } from './base.repository.js'
import { cursorScope, encodeCursor, readCursor, readTextKey, textKey, textKeyAfter, uuidKey } from './cursor.js'
import type { EmbeddingInput } from '../search/embedding-input.js'
import { setEmbedding } from '../search/embeddings.js'
import type { SearchHits } from '../search/hits.js'
import { runSearch } from '../search/run-search.js'
import type { SearchOptionsBase } from '../search/search-options.js'
import { memorySearchTarget } from '../search/targets.js'
import { isInTransaction } from '../search/atomic.js'
import { liveMemory, sweepExpiredMemories, upsertMemory } from './memory-expiry.js'
import { readBatchSize } from './message-retention.js'
import { effectiveQuery, readName, readScope, resolveQuery, type EffectiveOptions, type ResolveScope } from './memory-scope.js'

/** Options of `memories.search`: the query, its mode, and scope filters (left out = any, null = IS NULL). */
export interface MemorySearchOptions extends SearchOptionsBase {
  /** Default: `fulltext` with only `text`, `vector` with only `vector`, `hybrid` with both. */
  mode?: 'fulltext' | 'fuzzy' | 'vector' | 'hybrid'
  agentId?: number | null
  userId?: number | null
  sessionId?: string | null
  readMode?: ReadMode | null
}

/** A memory's scope. In `getByName` a key left out means NULL (exact scope). */
export interface MemoryScope {
  agentId?: number | null
  userId?: number | null
  sessionId?: string | null
}

/** Filters of `memories.list` / `count`: a key left out means any, null means none. */
export interface MemoryFilter extends MemoryScope {
  readMode?: ReadMode | null
  access?: Access | null
}

const MEMORY_FIELDS = {
  id: 'id',
  name: 'name',
  description: 'description',
  content: 'content',
  sessionId: 'session_id',
  userId: 'user_id',
  agentId: 'agent_id',
  readMode: 'read_mode',
  access: 'access',
  metadata: 'metadata',
  expiresAt: 'expires_at',
} as const
const FILTER_KEYS = ['agentId', 'userId', 'sessionId', 'readMode', 'access'] as const

/**
 * Memories: named knowledge scoped to an agent, a user, a session or a combination.
 * `create` upserts on (name, agentId, userId, sessionId), where NULLs count as equal.
 *
 * @example
 * ```ts
 * await db.memories.create({ name: 'tone', content: 'formal', agentId: agent.id }) // agent-global
 * await db.memories.create({ name: 'tone', content: 'casual', agentId: agent.id, userId: user.id })
 * ```
 */
export class MemoryRepository extends BaseRepository<Memory, string, Database, UpdateMemoryInput> {
  constructor(executor: Kysely<Database> | QueryContext) {
    super(executor, {
      table: 'memories',
      name: 'memories',
      columns: memoryColumns,
      toEntity: toMemory,
      idKind: 'uuid',
      pageKey: { column: 'id', kind: 'uuid', of: (m) => m.id },
      fields: MEMORY_FIELDS,
      json: new Set(['metadata']),
      updateInput: UpdateMemoryInput,
      visible: liveMemory(),
    })
  }

  /**
   * Creates the memory, or updates the one with the same name and exact scope, atomically.
   * Only the fields given are overwritten. An agent-global memory (userId null) and a user's
   * memory of the same name are different memories. An expired memory counts as absent: it is
   * replaced by a new one (new id, the fields given, defaults for the others, no embeddings).
   *
   * @example
   * ```ts
   * const m = await db.memories.create({ name: 'prefs', content: '…', agentId: 1, userId: 2, readMode: 'tool' })
   * ```
   */
  async create(input: CreateMemoryInput): Promise<Memory> {
    const row = this.#validRow(input, 'memories.create')
    return toMemory((await this.#upsert(row, 'create'))!)
  }

  /**
   * Creates the memory, never touching an existing one: when a memory with this name and exact
   * scope (agentId, userId, sessionId; NULLs equal) exists it throws ConflictError (code
   * `23505`, constraint `memories_scope_key`) and writes nothing. The conflict is detected
   * without a failed statement, so a transaction you are in carries on. An expired memory does
   * not conflict: it is replaced, as by {@link create}.
   *
   * @example
   * ```ts
   * const m = await db.memories.insert({ name: 'onboarding', content: 'done', userId: 2 })
   * ```
   */
  async insert(input: CreateMemoryInput): Promise<Memory> {
    const row = await this.#upsert(this.#validRow(input, 'memories.insert'), 'insert')
    if (row === undefined) {
      throw new ConflictError('memories.insert: a memory with this name and scope already exists', {
        code: '23505',
        constraint: 'memories_scope_key',
        table: 'memories',
      })
    }
    return toMemory(row)
  }

  /** The statement of create / insert (see upsertMemory), compiled once per column set. */
  async #upsert(row: Record<string, unknown>, mode: 'create' | 'insert', again = true): Promise<any> {
    const set = Object.keys(row)
    const key = [row.name, row.agent_id ?? null, row.user_id ?? null, row.session_id ?? null]
    try {
      const { rows } = await this.cached(`memories.${mode}:${set}`, [...key, ...Object.values(row)], (slots) =>
        upsertMemory(this.any, set, slots, mode, memoryColumns),
      )
      return rows[0]
    } catch (err) {
      // The memory expired while this statement waited for its row: its embeddings, read before
      // the wait, were not deleted. Once more, outside a transaction (inside, it is aborted).
      const raced = err instanceof ForeignKeyError && err.constraint === 'memory_embeddings_memory_id_fkey'
      if (!raced || !again || isInTransaction(this.context)) throw err
      return this.#upsert(row, mode, false)
    }
  }

  /**
   * Deletes the expired memories (`expiresAt <= now()` on the database server; every read left
   * them out already), `batchSize` per statement (default 5000, from 1 to 100 000), each one its
   * own transaction on a root Db. Their embeddings go with them. Returns how many were deleted.
   *
   * @example
   * ```ts
   * const removed = await db.memories.sweepExpired()
   * ```
   */
  async sweepExpired(options: { batchSize?: number } = {}): Promise<number> {
    const context = 'memories.sweepExpired'
    const batchSize = readBatchSize(assertOptions(options, ['batchSize'], context).batchSize, context)
    return sweepExpiredMemories(this.context, this.constructor, batchSize)
  }

  /** A create input, checked (at least one of agentId and userId), as the columns to write. */
  #validRow(input: CreateMemoryInput, context: string): Record<string, unknown> {
    const valid = validateInput(CreateMemoryInput, input, context)
    if (valid.agentId == null && valid.userId == null) {
      throw new ValidationError(
        [{ field: 'agentId', messages: ['agentId or userId is required: a memory belongs to an agent, a user, or both'] }],
        context,
      )
    }
    return this.toRow(valid)
  }

  /**
   * The memory with this name in exactly this scope: a scope key left out means NULL, so
   * `getByName('tone', { agentId: 1 })` is agent 1's global memory, never a user's.
   *
   * @example
   * ```ts
   * const mine = await db.memories.getByName('tone', { agentId: 1, userId: 2 })
   * ```
   */
  async getByName(name: string, scope: MemoryScope = {}): Promise<Memory | null> {
    const context = 'memories.getByName'
    assertText(name, 'name', context)
    const s = this.readFilter(assertOptions(scope, ['agentId', 'userId', 'sessionId'], context), context)
    const scoped: [string, unknown][] = [
      ['name', name],
      ['agent_id', s.agentId ?? null],
      ['user_id', s.userId ?? null],
      ['session_id', s.sessionId ?? null],
    ]
    const [memory] = await this.selectWhere('getByName', scoped, [], 1)
    return memory ?? null
  }

  /**
   * The memory named `name` that applies to a request of this agent, user and session: among
   * the memories whose agent, user and session are the request's or NULL (a key left out
   * matches only NULL), the most specific: session-scoped beats user-scoped beats agent-only;
   * with the same keys set, more keys beat fewer. Null when none applies.
   *
   * @example
   * ```ts
   * const tone = await db.memories.resolve('tone', { agentId: 1, userId: 2, sessionId }) // the user's override, if any
   * ```
   */
  async resolve(name: string, scope: ResolveScope = {}): Promise<Memory | null> {
    const context = 'memories.resolve'
    readName(name, context)
    const { keys } = readScope(scope, false, context)
    const { rows } = await this.cachedRead('memories.resolve', [name, keys.agentId, keys.userId, keys.sessionId], ([n, a, u, s]) =>
      resolveQuery(this.any, n, { agentId: a, userId: u, sessionId: s }),
    )
    return rows[0] === undefined ? null : toMemory(rows[0] as never)
  }

  /**
   * The memories that apply to a request, one per name (the most specific, as in
   * {@link resolve}), ordered by name. With `readMode`, the winner of each name is chosen first
   * and then filtered: a user's `tool` override of a name hides the agent's `system_prompt`
   * memory of that name from a `system_prompt` read: the override wins.
   *
   * @example
   * ```ts
   * const prompt = await db.memories.effective({ agentId: 1, userId: 2, sessionId, readMode: 'system_prompt' })
   * ```
   */
  async effective(options: EffectiveOptions = {}): Promise<Memory[]> {
    const { keys, readMode } = readScope(options, true, 'memories.effective')
    const args: unknown[] = [keys.agentId, keys.userId, keys.sessionId]
    if (readMode !== undefined) args.push(readMode)
    const { rows } = await this.cachedRead(`memories.effective:${readMode === undefined ? 'all' : 'mode'}`, args, ([a, u, s, mode]) =>
      effectiveQuery(this.any, { agentId: a, userId: u, sessionId: s }, mode),
    )
    return rows.map((r) => toMemory(r as never))
  }

  /**
   * Memories matching a query, best first (`{ item, score }`, higher is better in every mode).
   * `fulltext` (default with `text`): web-search syntax over name (weight A), description (B)
   * and content (C), `english` configuration, scored by `ts_rank_cd`. `fuzzy`: typo-tolerant
   * trigram match on the name and content (`favourite colr` finds `favorite_color`), scored by
   * `greatest(similarity(name, text), word_similarity(text, content))`. `vector` (with `vector`
   * + `model`): cosine similarity. `hybrid`: full text and vector fused by reciprocal rank.
   * Vector and hybrid need pgvector (FeatureUnavailableError without it). Scope filters: left
   * out = any, null = IS NULL. Default limit 20, at most 1000; the array carries `nextCursor`.
   *
   * @example
   * ```ts
   * const [best] = await db.memories.search({ text: 'favourite colr', mode: 'fuzzy', agentId: 1 })
   * const tools = await db.memories.search({ text: 'shipping policy', readMode: 'tool', userId: 2 })
   * ```
   */
  search(options: MemorySearchOptions): Promise<SearchHits<Memory>> {
    return runSearch(this.context, this.constructor, memorySearchTarget, options)
  }

  /**
   * Stores the memory's embedding for `model` (replacing its earlier one for that model); the
   * first vector of a model sets its dimension. A memory that does not exist is a NotFoundError;
   * deleting the memory deletes its embeddings. Works without pgvector (searching needs it).
   *
   * @example
   * ```ts
   * await db.memories.setEmbedding(memory.id, { model: 'minilm', vector: await embed(memory.content) })
   * ```
   */
  setEmbedding(id: string, embedding: EmbeddingInput): Promise<void> {
    return setEmbedding(this.context, this.constructor, memorySearchTarget, id, embedding)
  }

  /**
   * Memories ordered by name (then id). A filter key left out means any; null means none:
   * `list({ agentId: 1, userId: null })` is agent 1's global memories only. A page at a time:
   * the array carries `nextCursor`, to pass as `cursor` (with the same filters) for the next.
   *
   * @example
   * ```ts
   * const tools = await db.memories.list({ agentId: 1, readMode: 'tool' })
   * const more = tools.nextCursor ? await db.memories.list({ agentId: 1, readMode: 'tool', cursor: tools.nextCursor }) : []
   * ```
   */
  async list(filter: MemoryFilter & ListOptions = {}): Promise<ListPage<Memory>> {
    const context = 'memories.list'
    const opts = assertOptions(filter, [...FILTER_KEYS, 'limit', 'cursor'], context)
    const f = this.readFilter(opts, context)
    const limit = readLimit(opts.limit, context)
    const filters = [
      ['agent_id', f.agentId], ['user_id', f.userId], ['session_id', f.sessionId], ['read_mode', f.readMode], ['access', f.access],
    ] as const
    const scope = cursorScope(context, filters.map(([, v]) => v))
    const key = readCursor(opts.cursor, scope, context, (k) => readTextKey(k, (id) => uuidKey(id, context)))
    const after = await textKeyAfter(key, async (id: string) => (await this.get(id))?.name)
    const rows = await this.selectRows('list', filters, [['name', 'asc'], ['id', 'asc']], limit + 1, { after })
    return asListPage(this.toPage(rows, limit, (_, m: Memory) => encodeCursor(scope, textKey(scope, m.name, m.id))))
  }

  /**
   * How many memories match the filter (same semantics as `list`).
   *
   * @example
   * ```ts
   * const n = await db.memories.count({ userId: 2 })
   * ```
   */
  override count(filter: MemoryFilter = {}): Promise<number> {
    return super.count(filter)
  }

  protected override filtered<Q extends SelectQueryBuilder<any, any, any>>(query: Q, filter: unknown, method: string): Q {
    const context = `memories.${method}`
    const f = this.readFilter(assertOptions(filter, FILTER_KEYS, context), context)
    query = whereEq(query, 'agent_id', f.agentId)
    query = whereEq(query, 'user_id', f.userId)
    query = whereEq(query, 'session_id', f.sessionId)
    query = whereEq(query, 'read_mode', f.readMode)
    return whereEq(query, 'access', f.access)
  }

  private readFilter(f: Record<string, unknown>, context: string): MemoryFilter {
    if (f.agentId != null) assertId(f.agentId, 'agentId', context)
    if (f.userId != null) assertId(f.userId, 'userId', context)
    if (f.sessionId != null) assertUuid(f.sessionId, 'sessionId', context)
    for (const [key, allowed] of [['readMode', READ_MODES], ['access', ACCESS_MODES]] as const) {
      const v = f[key]
      if (v != null && !(allowed as readonly unknown[]).includes(v)) {
        throw new ValidationError([{ field: key, messages: [`${key} must be one of ${allowed.join(', ')}`] }], context)
      }
    }
    return f as MemoryFilter
  }
}
