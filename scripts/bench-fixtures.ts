/**
 * Rollback fixtures vs TRUNCATE: the cost of cleaning up after 500 small tests (issue 3).
 *
 * Each "test" writes what a small service test writes: a user, an agent, a session with three
 * messages and a memory (7 inserts). Two strategies:
 *   - rollback: the test runs in a transaction (automagik-db/testing) that is rolled back;
 *   - truncate: the test's writes commit, and every table is TRUNCATEd after it (what ORMs' guides do).
 * On embedded PGlite (in memory) and on a server (BENCH_DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres): a fresh database is created there and dropped at the end.
 *
 *   npx tsx scripts/bench-fixtures.ts                # both backends, 500 tests each
 *   BENCH_TESTS=100 npx tsx scripts/bench-fixtures.ts --backend pglite
 */
import { performance } from 'node:perf_hooks'
import type { Db } from '../src/index.js'
import { createTestDb } from '../src/testing/index.js'

type Backend = 'pglite' | 'postgres'

const TESTS = Number(process.env.BENCH_TESTS ?? 500)
const WARMUP = Math.min(25, TESTS)
const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const TABLES = 'memories, messages, sessions, users, agents'

/** One small test's writes. */
async function smallTest(db: Db, n: number): Promise<void> {
  const user = await db.users.create({ email: `user${n}@example.com`, userData: { plan: 'free' } })
  const agent = await db.agents.create({ name: `agent-${n}`, type: 'assistant', model: 'gpt-4o-mini' })
  const session = await db.sessions.create({ userId: user.id, agentId: agent.id, name: 'Welcome' })
  for (const text of ['hi', 'hello!', 'bye']) {
    await db.messages.create({ sessionId: session.id, role: 'user', textContent: text })
  }
  await db.memories.create({ name: 'tone', userId: user.id, agentId: agent.id, content: 'friendly' })
}

/** The test runs in a transaction that is rolled back. */
async function byRollback(db: Db, n: number): Promise<void> {
  const handle = await db.startTransaction()
  try {
    await smallTest(handle.db, n)
  } finally {
    await handle.rollback()
  }
}

/** Time spent in the TRUNCATE statements alone (the rest of `truncate` is the committed inserts). */
let truncateStatements = 0

/** The test's writes commit; then every table is emptied. */
async function byTruncate(db: Db, n: number): Promise<void> {
  await smallTest(db, n)
  const started = performance.now()
  await db.query(`TRUNCATE ${TABLES} RESTART IDENTITY CASCADE`)
  if (n >= 0) truncateStatements += performance.now() - started
}

async function time(db: Db, strategy: (db: Db, n: number) => Promise<void>, tests: number): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await strategy(db, -1 - i)
  const started = performance.now()
  for (let i = 0; i < tests; i++) await strategy(db, i)
  return performance.now() - started
}

interface Row {
  backend: Backend
  rollback: number
  truncate: number
  /** Of `truncate`, the TRUNCATE statements. */
  truncateOnly: number
}

async function bench(backend: Backend): Promise<Row> {
  const db =
    backend === 'pglite' ? await createTestDb({ embedded: true }) : await createTestDb({ url: SERVER_URL, prefix: 'amdb_bench_fixtures' })
  try {
    const rollback = await time(db, byRollback, TESTS)
    truncateStatements = 0
    const truncate = await time(db, byTruncate, TESTS)
    // Both strategies leave the database empty; a leftover row would make the comparison unfair.
    const [{ n }] = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM users')) as [{ n: number }]
    if (n !== 0) throw new Error(`${n} users left behind`)
    return { backend, rollback, truncate, truncateOnly: truncateStatements }
  } finally {
    await db.close() // drops the server database
  }
}

function table(rows: Row[]): string {
  const header = ['backend', 'tests', 'rollback ms', 'truncate ms', 'of which TRUNCATE', 'per test (rollback / truncate)', 'truncate ÷ rollback']
  const body = rows.map((r) => [
    r.backend,
    String(TESTS),
    r.rollback.toFixed(0),
    r.truncate.toFixed(0),
    r.truncateOnly.toFixed(0),
    `${(r.rollback / TESTS).toFixed(2)} / ${(r.truncate / TESTS).toFixed(2)} ms`,
    `${(r.truncate / r.rollback).toFixed(1)}×`,
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n')
}

const only = process.argv.includes('--backend') ? process.argv[process.argv.indexOf('--backend') + 1] : undefined
const backends = (['pglite', 'postgres'] as const).filter((b) => only === undefined || b === only)
if (backends.length === 0 || !Number.isInteger(TESTS) || TESTS < 1) {
  console.error('usage: tsx scripts/bench-fixtures.ts [--backend pglite|postgres]  (BENCH_TESTS=n, BENCH_DATABASE_URL=url)')
  process.exit(2)
}

const rows: Row[] = []
for (const backend of backends) {
  console.log(`${backend}: ${TESTS} tests per strategy…`)
  try {
    rows.push(await bench(backend))
  } catch (err) {
    console.error(`${backend}: skipped (${err instanceof Error ? err.message : String(err)})`)
  }
}
console.log(`\nCleaning up after ${TESTS} small tests (7 inserts each): rollback fixture vs TRUNCATE of all tables\n`)
console.log(table(rows))
