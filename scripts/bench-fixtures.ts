/**
 * `npm run bench:fixtures`: what test fixtures cost (issues 3 and 9).
 *
 * 1. Starting a test database: `createTestDb()` as each vitest worker calls it, in a fresh
 *    process, on PGlite (started from the migrated snapshot) and on a server (cloned from the
 *    migrated template); "before" is what createTestDb did until issue 9 (PGlite: start empty and
 *    migrate; server: CREATE DATABASE and migrate), "first call" builds the snapshot or template
 *    for a new set of migrations. Median and p95 of BENCH_STARTS samples (default 10).
 * 2. Cleaning up after 500 small tests: rollback fixtures vs TRUNCATE. Each "test" writes what a
 *    small service test writes: a user, an agent, a session with three messages and a memory
 *    (7 inserts). Two strategies:
 *   - rollback: the test runs in a transaction (automagik-db/testing) that is rolled back;
 *   - truncate: the test's writes commit, and every table is TRUNCATEd after it (what ORMs' guides do).
 * On embedded PGlite (in memory) and on a server (BENCH_DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres): a fresh database is created there and dropped at the end.
 *
 *   npx tsx scripts/bench-fixtures.ts                # both parts, both backends
 *   npx tsx scripts/bench-fixtures.ts --only starts  # or --only cleanup
 *   BENCH_TESTS=100 npx tsx scripts/bench-fixtures.ts --backend pglite
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpus, loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Db } from '../src/index.js'
import { createTestDb } from '../src/testing/index.js'
import { admin, withDatabase } from '../src/testing/server-admin.js'
import { snapshotFile } from '../src/testing/pglite-snapshot.js'
import { cacheDirectory, removeQuietly } from '../src/testing/snapshot-cache.js'
import { templateName } from '../src/testing/server-template.js'

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

// ---- 1. Starting a test database, in a fresh process per sample ----

type StartMode = 'snapshot' | 'before' | 'first'
const STARTS = Number(process.env.BENCH_STARTS ?? 10)
const run = promisify(execFile)

/** In the child: one createTestDb (or the old way), timed; prints `{ ms, cpuMs }`. */
async function child(backend: Backend, mode: StartMode, name: string): Promise<void> {
  const started = performance.now()
  const cpu = process.cpuUsage()
  let db: Db
  if (mode === 'before' && backend === 'pglite') {
    db = await Db.connect({ embedded: true, migrate: true }) // createTestDb until issue 9
  } else if (mode === 'before') {
    const database = `amdb_bench_before_${process.pid}`
    await admin(SERVER_URL, `CREATE DATABASE ${database}`)
    db = await Db.connect({ url: withDatabase(SERVER_URL, database), migrate: true })
    Db.onClose(db, () => admin(SERVER_URL, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`))
  } else {
    const migrations = mode === 'first' ? benchMigrations(name) : undefined
    db = backend === 'pglite' ? await createTestDb({ embedded: true, migrations }) : await createTestDb({ url: SERVER_URL, prefix: 'amdb_bench_start', migrations })
  }
  const ms = performance.now() - started
  const used = process.cpuUsage(cpu)
  await db.close()
  console.log(JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1000 }))
}

/** An app migration new to the cache: its snapshot or template is built by the call. */
const benchMigrations = (name: string) => ({ [name]: { up: async () => undefined } })

async function sample(backend: Backend, mode: StartMode, name = 'x'): Promise<{ ms: number; cpuMs: number }> {
  const self = fileURLToPath(import.meta.url)
  const { stdout } = await run(process.execPath, ['--import', 'tsx', self, '--child', backend, mode, name], { timeout: 300_000 })
  return JSON.parse(stdout.trim().split('\n').pop()!)
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
}

interface StartRow {
  backend: Backend
  mode: string
  n: number
  median: number
  p95: number
  cpu: number
}

async function starts(backend: Backend): Promise<StartRow[]> {
  const rows: StartRow[] = []
  const measure = async (mode: StartMode, label: string, n: number, name?: string) => {
    const samples: { ms: number; cpuMs: number }[] = []
    for (let i = 0; i < n; i++) samples.push(await sample(backend, mode, name ?? `bench-${randomBytes(6).toString('hex')}`))
    const ms = samples.map((s) => s.ms)
    rows.push({ backend, mode: label, n, median: quantile(ms, 0.5), p95: quantile(ms, 0.95), cpu: quantile(samples.map((s) => s.cpuMs), 0.5) })
  }
  // A warm-up call builds the snapshot / template of the package's own migrations if missing.
  await sample(backend, 'snapshot')
  await measure('snapshot', 'createTestDb()', STARTS)
  await measure('before', 'before issue 9 (migrate each time)', Math.max(3, Math.ceil(STARTS / 2)))
  const name = `bench-${randomBytes(6).toString('hex')}`
  await measure('first', 'first call for new migrations (builds)', 1, name)
  // The snapshot / template of that one-off migration is removed again.
  if (backend === 'pglite') await removeQuietly(snapshotFile(cacheDirectory(), benchMigrations(name)))
  else {
    const template = templateName(benchMigrations(name))
    await using server = await Db.connect({ url: SERVER_URL })
    const copies = await server.query<{ d: string }>('SELECT datname AS d FROM pg_database WHERE datname LIKE $1', [`${template}%`])
    for (const { d } of copies) await server.query(`DROP DATABASE IF EXISTS ${d} WITH (FORCE)`)
  }
  return rows
}

function startTable(rows: StartRow[]): string {
  const header = ['backend', 'what', 'samples', 'median ms', 'p95 ms', 'CPU ms (median)']
  const body = rows.map((r) => [r.backend, r.mode, String(r.n), r.median.toFixed(0), r.p95.toFixed(0), r.cpu.toFixed(0)])
  return aligned(header, body)
}

function aligned(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n')
}

// ---- main ----

const arg = (flag: string) => (process.argv.includes(flag) ? process.argv[process.argv.indexOf(flag) + 1] : undefined)
if (process.argv[2] === '--child') {
  await child(process.argv[3] as Backend, process.argv[4] as StartMode, process.argv[5] ?? 'x')
  process.exit(0)
}
const only = arg('--backend')
const part = arg('--only')
const backends = (['pglite', 'postgres'] as const).filter((b) => only === undefined || b === only)
if (backends.length === 0 || !Number.isInteger(TESTS) || TESTS < 1 || !Number.isInteger(STARTS) || STARTS < 1 || (part !== undefined && part !== 'starts' && part !== 'cleanup')) {
  console.error('usage: tsx scripts/bench-fixtures.ts [--backend pglite|postgres] [--only starts|cleanup]  (BENCH_STARTS=n, BENCH_TESTS=n, BENCH_DATABASE_URL=url)')
  process.exit(2)
}
console.log(`host: ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}, node ${process.version}`)

if (part !== 'cleanup') {
  const rows: StartRow[] = []
  for (const backend of backends) {
    console.log(`${backend}: createTestDb() in a fresh process, ${STARTS} samples…`)
    try {
      rows.push(...(await starts(backend)))
    } catch (err) {
      console.error(`${backend}: skipped (${err instanceof Error ? err.message : String(err)})`)
    }
  }
  console.log(`\nStarting a migrated test database (time to a ready Db inside a fresh process; process start-up not included)\n`)
  console.log(startTable(rows))
  console.log(`\nload average now ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`)
}

if (part !== 'starts') {
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
}
