/**
 * CPU-only costs of automagik-db's layers, with no database: a fake pg pool answers every query
 * at once with a canned row, so what is left is query building, Kysely's compiler, the pool
 * adapter, validation and row mapping. Use it to see where time goes and to check an
 * optimisation before running the full benchmark.
 *
 *   npx tsx scripts/bench/micro.ts [substring of a case name]
 */
import 'reflect-metadata'
import { performance } from 'node:perf_hooks'
import { CompiledQuery, Kysely, PostgresDialect } from 'kysely'
import { createRequire } from 'node:module'
import type { Database } from '../../src/generated/database.js'
import { QueryRunner } from '../../src/execution/query-runner.js'
import { Scope, ScopeRoot } from '../../src/execution/scope.js'
import { AgentRepository } from '../../src/repositories/agent.repository.js'
import { MessageRepository } from '../../src/repositories/message.repository.js'
import { SessionRepository } from '../../src/repositories/session.repository.js'
import { agentColumns, CreateAgentInput } from '../../src/models/agent.model.js'
import { CreateMessageInput, messageColumns, toMessage } from '../../src/models/message.model.js'
import { CreateSessionInput } from '../../src/models/session.model.js'
import { validateInput } from '../../src/validation.js'
import { SQL } from './sql.js'

/** pg's own parameter serialiser (what it runs on every value it sends). */
const pgUtils = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue(value: unknown): unknown }

const now = new Date()
const agentRow = {
  id: 1, name: 'agent-1', type: 'simple', model: 'gpt-4', description: 'd', version: null, system_prompt: 'p',
  config: { temperature: 0.2 }, active: true, run_id: 0, created_at: now, updated_at: now,
}
const sessionRow = {
  id: '6f1c7a9e-1b2c-4d3e-8f40-123456789abc', user_id: 1, agent_id: 1, name: 'n', platform: 'web', metadata: {},
  run_finished_at: null, created_at: now, updated_at: now,
}
const messageRow = (k: number) => ({
  id: '6f1c7a9e-1b2c-4d3e-8f40-123456789abc', seq: String(k), session_id: sessionRow.id, user_id: 1, agent_id: 1,
  role: 'user', text_content: 'hello world', media_url: null, mime_type: null, message_type: null, system_prompt: null,
  user_feedback: null, flagged: null, raw_payload: { turn: k }, tool_calls: {}, tool_outputs: {}, context: {},
  channel_payload: {}, token_count: 3, created_at: now, updated_at: now,
})
const messages51 = Array.from({ length: 51 }, (_, k) => messageRow(100 - k))
const messages10k = Array.from({ length: 10_000 }, (_, k) => messageRow(k))

/** Answers like pg would, immediately. */
function answer(text: string): { command: string; rowCount: number; rows: unknown[] } {
  const t = text.toLowerCase()
  if (t.includes('update "sessions"') || t.startsWith('update sessions')) return { command: 'UPDATE', rowCount: 1, rows: [] }
  if (t.includes('"agents"') || t.includes(' agents ')) return { command: 'SELECT', rowCount: 1, rows: [agentRow] }
  if (t.includes('into "sessions"')) return { command: 'INSERT', rowCount: 1, rows: [sessionRow] }
  if (t.includes('"messages"') || t.includes(' messages ')) return { command: 'SELECT', rowCount: 51, rows: messages51 }
  return { command: 'SELECT', rowCount: 0, rows: [] }
}

class FakeClient {
  query(config: string | { text: string }, _values?: unknown[]) {
    return Promise.resolve(answer(typeof config === 'string' ? config : config.text))
  }
  release() {}
  getTransactionStatus() {
    return 'I'
  }
  on() {
    return this
  }
}
class FakePool {
  readonly options = {}
  readonly totalCount = 1
  readonly idleCount = 1
  readonly waitingCount = 0
  readonly client = new FakeClient()
  connect() {
    return Promise.resolve(this.client)
  }
  on() {
    return this
  }
  async end() {}
}

/** A root scope of automagik-db's query runner over the fake pool. */
const runnerScope = (options: { preparedStatements: boolean; clientTimeout: number }) => {
  const runner = new QueryRunner(new FakePool() as never, {
    ...options,
    backend: 'postgres',
    statementCapacity: 256,
    closeTimeout: 1000,
    logger: undefined,
    secrets: [],
  })
  return new Scope(new ScopeRoot(runner, async () => undefined), undefined, '')
}
const plainKysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new FakePool() as never }) })
const amdbScope = runnerScope({ preparedStatements: true, clientTimeout: 35_000 })
const amdbNoTimeoutScope = runnerScope({ preparedStatements: true, clientTimeout: 0 })
const amdb = amdbScope.kysely
const amdbNoTimeout = amdbNoTimeoutScope.kysely
const fake = new FakePool()

const filter = process.argv[2]

/**
 * CPU time per call (user + system of this process, not wall time, so other processes on a busy
 * machine inflate it less): the best of 5 trials of ~`ms` each.
 */
async function measure(name: string, fn: () => unknown, ms = 150): Promise<number> {
  ms *= Number(process.env.MICRO_SCALE ?? 1)
  if (filter && !name.includes(filter)) return Number.NaN
  for (let i = 0; i < 200; i++) await fn() // warm-up
  let best = Infinity
  for (let trial = 0; trial < 5; trial++) {
    let n = 0
    const cpu0 = process.cpuUsage()
    const end = performance.now() + ms
    while (performance.now() < end) {
      for (let k = 0; k < 20; k++) await fn()
      n += 20
    }
    const cpu = process.cpuUsage(cpu0)
    best = Math.min(best, (cpu.user + cpu.system) / n)
  }
  console.log(`  ${name.padEnd(72)} ${best.toFixed(2).padStart(9)} µs`)
  return best
}

console.log('\nPer call, no database (fake pool answers at once):')
console.log(' floor')
await measure('fake pool: connect + query(text, values) + release', async () => {
  const c = await fake.connect()
  await c.query(SQL.agentById, [1])
  c.release()
})
console.log(' workload 1, agents.get(id)')
await measure('Kysely: build + compile only (selectFrom.select(12 cols).where.compile())', () =>
  plainKysely.selectFrom('agents').select(agentColumns).where('id', '=', 1).compile(),
)
await measure('Kysely over plain pool: build + compile + execute', () =>
  plainKysely.selectFrom('agents').select(agentColumns).where('id', '=', 1).executeTakeFirst(),
)
const compiledGet = plainKysely.selectFrom('agents').select(agentColumns).where('id', '=', 1).compile()
await measure('Kysely over plain pool: executeQuery(precompiled, new params)', () =>
  plainKysely.executeQuery({ ...compiledGet, parameters: [1] }),
)
await measure('automagik-db adapter: executeQuery(precompiled) (prepared, 35 s deadline)', () =>
  amdb.executeQuery({ ...compiledGet, parameters: [1] }),
)
await measure('automagik-db adapter: executeQuery(precompiled), clientTimeout 0', () =>
  amdbNoTimeout.executeQuery({ ...compiledGet, parameters: [1] }),
)
const agents = new AgentRepository(amdbScope)
const agentsNoTimeout = new AgentRepository(amdbNoTimeoutScope)
await measure('automagik-db agents.get(1) (defaults)', () => agents.get(1))
await measure('automagik-db agents.get(1), clientTimeout 0', () => agentsNoTimeout.get(1))

console.log(' workload 4, agents.create (upsert)')
const agentInput = { name: 'agent-1', type: 'simple', model: 'gpt-4', description: 'upserted' }
await measure('validateInput(CreateAgentInput) (class-validator validateSync)', () =>
  validateInput(CreateAgentInput, agentInput, 'agents.create'),
)
await measure('automagik-db agents.create(input)', () => agents.create(agentInput))

console.log(' workload 5, sessions.create + finish')
const sessions = new SessionRepository(amdbScope)
const sessionInput = { userId: 1, agentId: 1, name: 'bench', platform: 'bench' }
await measure('validateInput(CreateSessionInput)', () => validateInput(CreateSessionInput, sessionInput, 'sessions.create'))
await measure('automagik-db sessions.create + finish', async () => {
  const s = await sessions.create(sessionInput)
  await sessions.finish(s.id)
})

console.log(' workload 6, messages.listBySession (51 rows back)')
const messagesRepo = new MessageRepository(amdbScope)
await measure('Kysely build + compile of the listBySession query', () =>
  plainKysely.selectFrom('messages').select(messageColumns).where('session_id', '=', sessionRow.id).orderBy('seq', 'desc').limit(51).compile(),
)
await measure('toMessage × 51 rows', () => messages51.map(toMessage))
await measure('automagik-db messages.listBySession(s, { limit: 50, order: desc })', () =>
  messagesRepo.listBySession(sessionRow.id, { limit: 50, order: 'desc' }),
)

console.log('\nBulk and hydration (per call):')
await measure('toMessage × 10k rows', () => messages10k.map(toMessage), 500)
const messageInput = { sessionId: sessionRow.id, userId: 1, agentId: 1, role: 'user' as const, textContent: 'bulk message 1: lorem ipsum' }
const perRow = await measure('validateInput(CreateMessageInput) × 1 row', () =>
  validateInput(CreateMessageInput, messageInput, 'messages.createMany[0]'),
)
if (!Number.isNaN(perRow)) console.log(`  → for 100k rows: ${((perRow * 100_000) / 1000).toFixed(0)} ms of validation`)
const inputs10k = Array.from({ length: 10_000 }, () => ({ ...messageInput }))
await measure('automagik-db messages.createMany(10k) up to the driver (fake pool)', () => messagesRepo.createMany(inputs10k), 1000)
const nullArray = new Array(10_000).fill(null)
const textArray = inputs10k.map((r) => r.textContent)
await measure('pg prepareValue: one 10k-element array of NULLs → text', () => pgUtils.prepareValue(nullArray), 500)
await measure('pg prepareValue: one 10k-element text array → text', () => pgUtils.prepareValue(textArray), 500)
console.log('  (createMany sends 18 arrays, 13 of them all NULL when only 5 fields are given)')
console.log('\nFor comparison:')
await measure('CompiledQuery.raw + executeQuery of a trivial statement (adapter)', () => amdb.executeQuery(CompiledQuery.raw(SQL.agentById, [1])))
process.exit(0)
