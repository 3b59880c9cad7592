import type { Kysely } from 'kysely'
import type { Database } from '../generated/database.js'
import { rethrowTyped } from '../pg-errors.js'
import { Agent, agentColumns, CreateAgentInput, toAgent, UpdateAgentInput } from '../models/agent.model.js'
import { assertOptions, assertText, MAX_INT4, readBoolean, validateInput } from '../validation.js'
import type { QueryContext } from '../execution/query-context.js'
import { ConflictError } from '../errors.js'
import { asListPage, BaseRepository, excludedOf, readLimit, type ListOptions, type ListPage } from './base.repository.js'
import { cursorScope, encodeCursor, intKey, readCursor, readTextKey, textKey, textKeyAfter } from './cursor.js'

/** Filters of `agents.list`. */
export interface AgentListOptions extends ListOptions {
  /** Only active agents (default true, as in the seed's `list_agents(active_only=True)`). */
  activeOnly?: boolean
}

const AGENT_FIELDS = {
  name: 'name',
  type: 'type',
  model: 'model',
  description: 'description',
  version: 'version',
  systemPrompt: 'system_prompt',
  config: 'config',
  active: 'active',
  runId: 'run_id',
} as const

/**
 * Agents: create-or-update by name, lookups, and the atomic run counter.
 *
 * @example
 * ```ts
 * const agents = new AgentRepository(kysely)
 * const agent = await agents.create({ name: 'helper', type: 'simple', model: 'gpt-4' })
 * ```
 */
export class AgentRepository extends BaseRepository<Agent, number, Database, UpdateAgentInput> {
  constructor(executor: Kysely<Database> | QueryContext) {
    super(executor, {
      table: 'agents',
      name: 'agents',
      columns: agentColumns,
      toEntity: toAgent,
      idKind: 'int',
      pageKey: { column: 'id', kind: 'int', of: (a) => a.id },
      fields: AGENT_FIELDS,
      json: new Set(['config']),
      updateInput: UpdateAgentInput,
    })
  }

  /**
   * Creates the agent, or, when one with this name exists, updates it, in one atomic statement
   * (`INSERT … ON CONFLICT (name) DO UPDATE`). Only the fields given are overwritten: an
   * existing agent keeps its run id, active flag and version unless you pass them.
   *
   * @example
   * ```ts
   * const agent = await db.agents.create({ name: 'helper', type: 'simple', model: 'gpt-4', config: { temperature: 0.2 } })
   * ```
   */
  async create(input: CreateAgentInput): Promise<Agent> {
    const valid = validateInput(CreateAgentInput, input, 'agents.create')
    const row = this.toRow(valid)
    const updates = Object.keys(row).filter((c) => c !== 'name')
    return this.insertOne(row, 'upsert', (q) =>
      q.onConflict((oc) => oc.column('name').doUpdateSet(excludedOf(updates))),
    )
  }

  /**
   * Creates the agent, never touching an existing one: when an agent with this name exists it
   * throws ConflictError (code `23505`, constraint `agents_name_key`) and writes nothing. The
   * conflict is detected without a failed statement, so a transaction you are in carries on.
   *
   * @example
   * ```ts
   * const agent = await db.agents.insert({ name: 'helper-v2', type: 'simple', model: 'gpt-4' })
   * ```
   */
  async insert(input: CreateAgentInput): Promise<Agent> {
    const row = this.toRow(validateInput(CreateAgentInput, input, 'agents.insert'))
    const set = Object.keys(row)
    const { rows } = await this.cached(`agents.insertNew:${set}`, Object.values(row), (v) =>
      this.db
        .insertInto('agents')
        .values(Object.fromEntries(set.map((c, i) => [c, v[i]])) as never)
        .onConflict((oc) => oc.column('name').doNothing())
        .returning(agentColumns),
    )
    if (rows[0] === undefined) {
      throw new ConflictError('agents.insert: an agent with this name already exists', {
        code: '23505',
        constraint: 'agents_name_key',
        table: 'agents',
      })
    }
    return toAgent(rows[0])
  }

  /**
   * The agent with this exact (case-sensitive) name, or null.
   *
   * @example
   * ```ts
   * const agent = await db.agents.getByName('helper')
   * ```
   */
  async getByName(name: string): Promise<Agent | null> {
    assertText(name, 'name', 'agents.getByName')
    const { rows } = await this.cachedRead('agents.getByName', [name], ([name]) =>
      this.db.selectFrom('agents').select(agentColumns).where('name', '=', name as string),
    )
    return rows[0] === undefined ? null : toAgent(rows[0])
  }

  /**
   * Agents ordered by name; only active ones unless `activeOnly: false`. A page at a time: the
   * array carries `nextCursor`, to pass as `cursor` (with the same `activeOnly`) for the next.
   *
   * @example
   * ```ts
   * const all = await db.agents.list({ activeOnly: false })
   * const more = all.nextCursor ? await db.agents.list({ activeOnly: false, cursor: all.nextCursor }) : []
   * ```
   */
  async list(options: AgentListOptions = {}): Promise<ListPage<Agent>> {
    const context = 'agents.list'
    const opts = assertOptions(options, ['activeOnly', 'limit', 'cursor'], context)
    const limit = readLimit(opts.limit, context)
    const activeOnly = readBoolean(opts.activeOnly, true, 'activeOnly', context)
    const scope = cursorScope(context, [activeOnly])
    const key = readCursor(opts.cursor, scope, context, (k) => readTextKey(k, (id) => intKey(id, context, MAX_INT4)))
    const after = await textKeyAfter(key, async (id: number) => (await this.get(id))?.name)
    const filters = [['active', activeOnly ? true : undefined]] as const
    const rows = await this.selectRows('list', filters, [['name', 'asc'], ['id', 'asc']], limit + 1, { after })
    return asListPage(this.toPage(rows, limit, (_, a: Agent) => encodeCursor(scope, textKey(scope, a.name, a.id))))
  }

  /**
   * How many agents there are (only active ones with `activeOnly: true`).
   *
   * @example
   * ```ts
   * const active = await db.agents.count({ activeOnly: true })
   * ```
   */
  override async count(filter: { activeOnly?: boolean } = {}): Promise<number> {
    const opts = assertOptions(filter, ['activeOnly'], 'agents.count')
    let query = this.db.selectFrom('agents')
    if (readBoolean(opts.activeOnly, false, 'activeOnly', 'agents.count')) query = query.where('active', '=', true)
    const { rows } = await this.readQuery(query.select((eb) => eb.fn.countAll<string>().as('n'))).catch(rethrowTyped)
    return Number(rows[0]!.n)
  }

  /**
   * Adds one to the agent's run id atomically and returns the new value, or null when no agent
   * has this id. Safe under any concurrency: each call gets a distinct value.
   *
   * @example
   * ```ts
   * const run = await db.agents.incrementRunId(agent.id) // 1, 2, 3, …
   * ```
   */
  async incrementRunId(id: number): Promise<number | null> {
    this.assertId(id, 'incrementRunId')
    const { rows } = await this.cached('agents.incrementRunId', [id], ([id]) =>
      this.db
        .updateTable('agents')
        .set((eb) => ({ run_id: eb('run_id', '+', 1) }))
        .where('id', '=', id as number)
        .returning('run_id'),
    )
    return rows[0] === undefined ? null : rows[0].run_id
  }
}
