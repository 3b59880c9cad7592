import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ConnectionError, Db, QueryError, TimeoutError } from '../../src/index.js'
import { backend, serverUrl } from '../support/test-db.js'
import { PgBouncer, pgbouncerBinary, pgbouncerVersion } from './support/pgbouncer.js'
import { Admin, scratchDatabase } from './support/server.js'
import { failure } from './support/wait.js'

// Issue 5, item 10: PgBouncer in transaction mode (Debian's package, started here on loopback
// in front of the shared server). Every transaction may run on a different server connection,
// and session state does not survive between transactions. What automagik-db needs there:
//  - `preparedStatements: false` (PgBouncer < 1.21, or without max_prepared_statements);
//  - `ignore_startup_parameters = statement_timeout` in pgbouncer.ini (or `statementTimeout: 0`):
//    pg sends `statementTimeout` as a startup parameter, which PgBouncer otherwise refuses;
//  - statement_timeout set on the server (ALTER DATABASE/ROLE … SET), because the ignored
//    startup parameter is not applied.
const installed = pgbouncerBinary() !== undefined
const version = pgbouncerVersion()
const rewritesPrepared = version !== undefined && (version[0] > 1 || version[1] >= 21)
if (!installed && backend === 'postgres') {
  console.warn('pgbouncer is not installed: skipping the PgBouncer tests (apt-get install -y pgbouncer)')
}
const serverPort = Number(new URL(serverUrl).port || 5432)

describe.skipIf(backend !== 'postgres' || !installed)('PgBouncer in transaction mode', () => {
  let admin: Admin
  let scratch: Awaited<ReturnType<typeof scratchDatabase>>
  let bouncer: PgBouncer
  let db: Db

  beforeAll(async () => {
    admin = await Admin.connect()
    scratch = await scratchDatabase(admin, 'amdb_faults_bouncer')
    // Two server connections for an application pool of ten: real multiplexing.
    bouncer = await PgBouncer.start({ serverPort, poolSize: 2 })
    db = await Db.connect({ url: bouncer.url(scratch.name), poolSize: 10, preparedStatements: false, migrate: true })
  }, 60_000)
  afterAll(async () => {
    await db?.close()
    await bouncer?.stop()
    await scratch?.drop()
    await admin?.close()
  })

  test('the repositories work through it with preparedStatements: false', async () => {
    const agent = await db.agents.create({ name: 'bouncer', type: 'chat', model: 'm', config: { a: 1 } })
    expect(await db.agents.getByName('bouncer')).toMatchObject({ id: agent.id, config: { a: 1 } })
    expect((await db.agents.update(agent.id, { description: 'd' }))?.description).toBe('d')
    expect(await db.agents.incrementRunId(agent.id)).toBe(1)
    expect((await db.agents.list()).map((a) => a.name)).toEqual(['bouncer'])

    const user = await db.users.create({ email: 'Bob@Example.com' })
    expect((await db.users.create({ email: 'bob@example.com', phoneNumber: '1' })).id).toBe(user.id)
    expect((await db.users.getByEmail('BOB@example.com'))?.phoneNumber).toBe('1')

    const session = await db.sessions.create({ userId: user.id, agentId: agent.id })
    await db.messages.createMany(Array.from({ length: 25 }, (_, i) => ({ sessionId: session.id, role: 'user' as const, textContent: `m${i}` })))
    const seen: string[] = []
    let cursor: string | null = null
    for (let i = 0; i < 10; i++) {
      const page = await db.messages.listBySession(session.id, { limit: 10, cursor })
      seen.push(...page.map((m) => m.textContent ?? ''))
      cursor = page.nextCursor
      if (cursor === null) break
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `m${i}`))
    expect(await db.sessions.finish(session.id)).toBe(true)

    await db.memories.create({ name: 'tone', content: 'formal', agentId: agent.id })
    await db.memories.create({ name: 'tone', content: 'casual', agentId: agent.id })
    expect((await db.memories.getByName('tone', { agentId: agent.id }))?.content).toBe('casual')
    expect(await db.query('SELECT $1::int + $2::int AS n', [2, 3])).toEqual([{ n: 5 }])
    expect(await db.batch('UPDATE agents SET version = $1 WHERE id = $2', [['v1', agent.id], ['v2', agent.id]])).toBe(2)
    expect(await db.agents.delete(agent.id)).toBe(true)
    expect(await db.sessions.get(session.id)).toBeNull() // cascaded
  })

  test('transactions stay on one server connection: commit, rollback, savepoints', async () => {
    await db.transaction(async (tx) => {
      await tx.agents.create({ name: 'tx-kept', type: 't', model: 'm' })
      await tx.query("SET LOCAL application_name = 'in-tx'")
      await expect(
        tx.transaction(async (inner) => {
          await inner.agents.create({ name: 'tx-savepoint', type: 't', model: 'm' })
          throw new Error('undo the savepoint')
        }),
      ).rejects.toThrow('undo the savepoint')
      // Same server connection for the whole transaction: its own uncommitted row and its
      // SET LOCAL are visible.
      expect(await tx.agents.getByName('tx-kept')).not.toBeNull()
      expect(await tx.query('SHOW application_name')).toEqual([{ application_name: 'in-tx' }])
    })
    await expect(
      db.transaction(async (tx) => {
        await tx.agents.create({ name: 'tx-rolled-back', type: 't', model: 'm' })
        throw new Error('roll back')
      }),
    ).rejects.toThrow('roll back')
    expect((await db.agents.list({ activeOnly: false })).map((a) => a.name)).toEqual(['tx-kept'])
  })

  test('100 concurrent upserts and increments through 2 server connections: one row, exactly +100', async () => {
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => db.agents.create({ name: 'hot', type: 't', model: `m${i}` })))
    expect(new Set(results.map((a) => a.id)).size).toBe(1)
    const id = results[0]!.id
    await Promise.all(Array.from({ length: 100 }, () => db.agents.incrementRunId(id)))
    expect((await db.agents.get(id))?.runId).toBe(100)
  })

  test('PgBouncer refuses the statement_timeout startup parameter unless told to ignore it', async () => {
    const strict = await PgBouncer.start({ serverPort, poolSize: 1, ignoreStartupParameters: [] })
    try {
      // The default statementTimeout (30 s) is sent as a startup parameter …
      const { error } = await failure(() => Db.connect({ url: strict.url(scratch.name), preparedStatements: false }))
      expect(error).toBeInstanceOf(ConnectionError)
      expect(error).toMatchObject({ code: '08P01' })
      expect((error as Error).message).toMatch(/unsupported startup parameter: statement_timeout/)
      // … so either PgBouncer ignores it (ignore_startup_parameters), or the Db does not send it.
      const untimed = await Db.connect({ url: strict.url(scratch.name), preparedStatements: false, statementTimeout: 0 })
      expect(await untimed.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }])
      await untimed.close()
    } finally {
      await strict.stop()
    }
  })

  test('statementTimeout is not applied through PgBouncer; a server-side setting is', async () => {
    const timed = await Db.connect({ url: bouncer.url(scratch.name), statementTimeout: 300, preparedStatements: false })
    try {
      // PgBouncer ignored the startup parameter: the server default (0 = none) is in force.
      expect(await timed.query('SHOW statement_timeout')).toEqual([{ statement_timeout: '0' }])
    } finally {
      await timed.close()
    }
    // The fix: set it on the server, for the database (or the role) the application uses.
    const limited = await scratchDatabase(admin, 'amdb_faults_bouncer_limited')
    await admin.query(`ALTER DATABASE ${limited.name} SET statement_timeout = '300ms'`)
    const fresh = await Db.connect({ url: bouncer.url(limited.name), preparedStatements: false })
    try {
      const { error, ms } = await failure(() => fresh.query('SELECT pg_sleep(5)'))
      expect(error).toBeInstanceOf(TimeoutError)
      expect(error).toMatchObject({ code: '57014' })
      expect(ms).toBeLessThan(2_000)
      expect(await fresh.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }])
    } finally {
      await fresh.close()
      await limited.drop()
    }
  })

  test.skipIf(rewritesPrepared)(`preparedStatements: true breaks on PgBouncer ${version?.join('.')} (< 1.21): named statements collide across clients`, async () => {
    const agent = await db.agents.create({ name: 'prepared', type: 't', model: 'm' })
    const single = await PgBouncer.start({ serverPort, poolSize: 1 }) // one server connection for all clients
    const prepared = await Db.connect({ url: single.url(scratch.name), poolSize: 2, preparedStatements: true })
    try {
      await prepared.withConnection(async (first) => {
        // Client connection 1 prepares the statement on the only server connection …
        expect((await first.agents.get(agent.id))?.name).toBe('prepared')
        // … client connection 2 (the first is held) prepares it again on the same one.
        const { error } = await failure(() => prepared.agents.get(agent.id))
        expect(error).toBeInstanceOf(QueryError)
        expect(error).toMatchObject({ code: '42P05' }) // prepared statement "amdb_…" already exists
      })
    } finally {
      await prepared.close()
      await single.stop()
    }
  })

  test.skipIf(rewritesPrepared)(`PgBouncer ${version?.join('.')} does not know max_prepared_statements (added in 1.21): it refuses to start`, async () => {
    await expect(PgBouncer.start({ serverPort, poolSize: 1, maxPreparedStatements: 200 })).rejects.toThrow(
      /unknown parameter: pgbouncer\/max_prepared_statements/,
    )
  })

  describe.skipIf(!rewritesPrepared)('PgBouncer ≥ 1.21 with max_prepared_statements', () => {
    test('preparedStatements: true works', async () => {
      const rewriting = await PgBouncer.start({ serverPort, poolSize: 2, maxPreparedStatements: 200 })
      const prepared = await Db.connect({ url: rewriting.url(scratch.name), poolSize: 4, preparedStatements: true })
      try {
        const agent = await prepared.agents.create({ name: 'prepared-ok', type: 't', model: 'm' })
        await Promise.all(Array.from({ length: 8 }, () => prepared.withConnection(async (c) => {
          for (let i = 0; i < 5; i++) expect((await c.agents.get(agent.id))?.name).toBe('prepared-ok')
        })))
      } finally {
        await prepared.close()
        await rewriting.stop()
      }
    })
  })
})
