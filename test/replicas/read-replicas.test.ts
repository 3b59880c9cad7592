import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ConnectionError, Db, ValidationError } from '../../src/index.js'
import { backend } from '../support/test-db.js'
import { clusterSupported } from '../faults/support/cluster.js'
import { recordingLogger } from '../faults/support/logger.js'
import { freePort } from '../faults/support/net.js'
import { PgBouncer, pgbouncerBinary } from '../faults/support/pgbouncer.js'
import { sleep, waitFor } from '../faults/support/wait.js'
import { APPLY_DELAY_MS, ReplicaPair } from './replica-pair.js'

// Issue 11 §1: read replicas on PostgreSQL's own streaming replication. A private primary and two
// replicas made with `pg_basebackup -R` (one applying at once, one `recovery_min_apply_delay`
// behind), on this machine. A standby refuses every write (SQLSTATE 25006), so each write here
// that succeeds went to the primary.

// CI (AMDB_REQUIRE_FAULT_TOOLS) fails here instead of skipping when pgbouncer is missing.
const bouncerInstalled = backend === 'postgres' && pgbouncerBinary() !== undefined

const agent = (name: string) => ({ name, type: 't', model: 'm' })

describe('read replica options', () => {
  test('replicas need a server, and bad values are ValidationErrors naming the field', async () => {
    const cases: [object, string][] = [
      [{ embedded: true, replicas: ['postgres://127.0.0.1:1/x'] }, 'replicas'],
      [{ url: 'postgres://127.0.0.1:1/x', replicas: 'postgres://127.0.0.1:2/x' }, 'replicas'],
      [{ url: 'postgres://127.0.0.1:1/x', replicas: [''] }, 'replicas'],
      [{ url: 'postgres://127.0.0.1:1/x', replicas: [], readYourWrites: 'yes' }, 'readYourWrites'],
      [{ url: 'postgres://127.0.0.1:1/x', replicas: [], maxReplicaLag: -1 }, 'maxReplicaLag'],
    ]
    for (const [options, field] of cases) {
      const error = await Db.connect(options as never).catch((e: unknown) => e)
      expect(error, JSON.stringify(options)).toBeInstanceOf(ValidationError)
      expect((error as ValidationError).fields).toContain(field)
    }
  })
})

describe.skipIf(backend !== 'postgres' || !clusterSupported())('read replicas on real streaming replication', () => {
  let pair: ReplicaPair
  /** Writes that the Dbs under test do not see as their own. */
  let other: Db

  beforeAll(async () => {
    pair = await ReplicaPair.start()
    other = await Db.connect({ url: pair.primary.url(), poolSize: 2, migrate: true })
    await Promise.all([pair.caughtUp(pair.replica), pair.caughtUp(pair.delayed)])
  }, 120_000)
  afterAll(async () => {
    await other?.close()
    await pair?.destroy()
  })

  const open = (options: Record<string, unknown> = {}) =>
    Db.connect({ url: pair.primary.url(), poolSize: 3, connectTimeout: 1_000, ...options })

  test('readYourWrites: false — a read right after a write is stale: it went to the replica', async () => {
    await using db = await open({ replicas: [pair.delayed.url()], readYourWrites: false, maxReplicaLag: 60_000 })
    const created = await db.agents.create(agent('stale-read'))
    expect(await db.agents.get(created.id)).toBeNull()
    expect(await db.agents.getByName('stale-read')).toBeNull()
    expect((await db.primary.agents.get(created.id))?.name).toBe('stale-read')
    await sleep(APPLY_DELAY_MS)
    await pair.caughtUp(pair.delayed)
    expect((await db.agents.get(created.id))?.name).toBe('stale-read')
  })

  test('readYourWrites: true — a read after a write sees it; reads with nothing to wait for still go to the replica', async () => {
    await using db = await open({ replicas: [pair.delayed.url()], maxReplicaLag: 60_000 })
    const created = await db.agents.create(agent('ryw'))
    expect((await db.agents.get(created.id))?.name).toBe('ryw')
    const session = await db.transaction(async (tx) => {
      const user = await tx.users.create({ email: 'ryw@example.com' })
      return tx.sessions.create({ userId: user.id, agentId: created.id })
    })
    await db.messages.create({ sessionId: session.id, role: 'user', textContent: 'hello replica' })
    expect((await db.messages.listBySession(session.id)).map((m) => m.textContent)).toEqual(['hello replica'])
    expect((await db.context.load(session.id))?.messages.map((m) => m.textContent)).toEqual(['hello replica'])
    expect(await db.messages.count(session.id)).toBe(1)

    // A write by another Db is not this Db's: the read goes to the (delayed) replica and is stale.
    await pair.caughtUp(pair.delayed)
    const elsewhere = await other.agents.create(agent('other-db'))
    expect(await db.agents.get(elsewhere.id)).toBeNull()
    // db.primary, and a transaction's reads, see it at once.
    expect((await db.primary.agents.get(elsewhere.id))?.name).toBe('other-db')
    expect((await db.transaction((tx) => tx.agents.get(elsewhere.id)))?.name).toBe('other-db')
  })

  test('reads are spread over the replicas', async () => {
    await using db = await open({ replicas: [pair.replica.url(), pair.delayed.url()], maxReplicaLag: 60_000 })
    await pair.caughtUp(pair.delayed)
    const created = await other.agents.create(agent('spread'))
    await pair.caughtUp(pair.replica) // the delayed one has not applied it yet
    const seen = await Promise.all(Array.from({ length: 6 }, async () => (await db.agents.get(created.id)) !== null))
    for (let i = 0; i < 6; i++) seen.push((await db.agents.get(created.id)) !== null)
    expect(seen).toContain(true) // from the replica
    expect(seen).toContain(false) // from the delayed replica
  })

  test('a replica lagging more than maxReplicaLag is skipped with one warning, and used again once it catches up', async () => {
    const logger = recordingLogger()
    await using db = await open({ replicas: [pair.delayed.url()], readYourWrites: false, maxReplicaLag: 500, logger })
    const created = await other.agents.create(agent('lagging'))
    await sleep(APPLY_DELAY_MS / 2) // the delayed replica has the WAL, unapplied for over 500 ms
    for (let i = 0; i < 5; i++) expect((await db.agents.get(created.id))?.name).toBe('lagging') // from the primary
    expect(logger.matching('lags more than maxReplicaLag')).toHaveLength(1)
    expect(logger.matching('lags more than maxReplicaLag')[0]!.obj).toMatchObject({ maxReplicaLag: 500 })

    // Caught up (nothing received and unapplied): lag 0, and past the health interval it is read again.
    await pair.caughtUp(pair.delayed)
    await sleep(1_100)
    expect((await db.agents.get(created.id))?.name).toBe('lagging')
    expect(logger.matching('usable again')).toHaveLength(1)
    expect(logger.matching('lags more than maxReplicaLag')).toHaveLength(1)
    expect(JSON.stringify(logger.lines)).not.toContain('password')
  })

  test('read-your-writes covers writes on withConnection, startTransaction and savepoints', async () => {
    await using db = await open({ replicas: [pair.delayed.url()], maxReplicaLag: 60_000 })
    await pair.caughtUp(pair.delayed)
    const pinned = await db.withConnection(async (conn) => {
      const a = await conn.agents.create(agent('pinned-write'))
      return db.agents.get(a.id) // the root Db, while the connection is still pinned
    })
    expect(pinned?.name).toBe('pinned-write')
    const handle = await db.startTransaction()
    const b = await handle.db.agents.create(agent('handle-write'))
    await handle.db.transaction((sp) => sp.agents.update(b.id, { description: 'in a savepoint' }))
    await handle.commit()
    expect((await db.agents.get(b.id))?.description).toBe('in a savepoint')
  })

  test('a replica cut off from the primary (it believes it is up to date) is skipped once it is maxReplicaLag behind', async () => {
    const logger = recordingLogger()
    await using db = await open({ replicas: [pair.replica.url()], readYourWrites: false, maxReplicaLag: 1_000, logger })
    await pair.caughtUp(pair.replica)
    const seed = await other.agents.create(agent('cut-off-seed'))
    await pair.caughtUp(pair.replica)
    // The Db watches the primary for longer than maxReplicaLag.
    for (let i = 0; i < 12; i++) {
      expect((await db.agents.get(seed.id))?.name).toBe('cut-off-seed')
      await sleep(100)
    }
    const conninfo = await pair.replica.psql('SHOW primary_conninfo') // written by pg_basebackup -R
    await pair.replica.psql("ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 user=postgres'")
    await pair.replica.psql('SELECT pg_reload_conf()')
    try {
      await sleep(500)
      const created = await other.agents.create(agent('cut-off'))
      await waitFor('the cut-off replica to be skipped', async () => (await db.agents.get(created.id)) !== null || undefined, { timeout: 5_000, every: 100 })
      expect(logger.matching('lags more than maxReplicaLag')).toHaveLength(1)
    } finally {
      await pair.replica.psql(`ALTER SYSTEM SET primary_conninfo = '${conninfo.replaceAll("'", "''")}'`)
      await pair.replica.psql('SELECT pg_reload_conf()')
    }
    await pair.caughtUp(pair.replica)
  }, 30_000)

  test('replica stopped: reads keep working from the primary, with one warning; it is used again after it comes back', async () => {
    const logger = recordingLogger()
    await using db = await open({ replicas: [pair.replica.url()], logger })
    const created = await db.agents.create(agent('replica-down'))
    expect((await db.agents.get(created.id))?.name).toBe('replica-down') // connections to the replica in the pool
    await pair.replica.stopServer('fast')
    try {
      for (let i = 0; i < 5; i++) {
        expect((await db.agents.get(created.id))?.name).toBe('replica-down')
        expect(await db.agents.count()).toBeGreaterThan(0)
      }
      expect(logger.matching('read replica unreachable')).toHaveLength(1)
    } finally {
      await pair.replica.startServer()
    }
    await pair.caughtUp(pair.replica)
    await waitFor('the replica to be used again', async () => {
      await db.agents.get(created.id)
      return logger.matching('usable again').length === 1
    }, { timeout: 10_000, every: 250 })
  }, 30_000)

  test("spans of a read on a replica carry the replica's server.port; a write's, the primary's", async () => {
    const exporter = new InMemorySpanExporter()
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    await using db = await open({ replicas: [pair.replica.url()], readYourWrites: false, telemetry: { tracerProvider } })
    const created = await db.agents.create(agent('traced-replica'))
    await pair.caughtUp(pair.replica)
    exporter.reset()
    expect((await db.agents.get(created.id))?.name).toBe('traced-replica')
    const read = exporter.getFinishedSpans().find((span) => span.name === 'SELECT agents')
    expect(read?.attributes['server.port']).toBe(pair.replica.port)
    const write = await (async () => {
      exporter.reset()
      await db.agents.update(created.id, { description: 'traced' })
      return exporter.getFinishedSpans().find((span) => span.name === 'UPDATE agents')
    })()
    expect(write?.attributes['server.port']).toBe(pair.primary.port)
  })

  test('an unreachable replica: reads from the primary, one warning, and its password nowhere', async () => {
    const logger = recordingLogger()
    const closed = `postgres://app:s3cret-replica-pw@127.0.0.1:${await freePort()}/postgres`
    await using db = await open({ replicas: [closed], logger })
    const created = await other.agents.create(agent('unreachable-replica'))
    for (let i = 0; i < 3; i++) expect((await db.agents.get(created.id))?.name).toBe('unreachable-replica')
    expect(logger.matching('read replica unreachable')).toHaveLength(1)
    expect(logger.text()).not.toContain('s3cret-replica-pw')
    expect(logger.text()).toContain(`127.0.0.1:${new URL(closed).port}`)
  })

  test('a replica never receives a write: every write path works with replicas configured', async () => {
    await using db = await open({ replicas: [pair.replica.url(), pair.delayed.url()] })
    const a = await db.agents.create(agent('writes'))
    await db.agents.update(a.id, { description: 'updated' })
    await db.agents.insert(agent('writes-insert'))
    await db.transaction(async (tx) => tx.agents.incrementRunId(a.id))
    await db.query('UPDATE agents SET active = $1 WHERE id = $2', [false, a.id])
    await db.batch('UPDATE agents SET version = $1 WHERE id = $2', [['v2', a.id]])
    await db.withConnection((conn) => conn.agents.update(a.id, { model: 'm2' }))
    await db.kysely.updateTable('agents').set({ type: 't2' }).where('id', '=', a.id).execute()
    expect(await db.agents.get(a.id)).toMatchObject({ description: 'updated', active: false, version: 'v2', model: 'm2', type: 't2', runId: 1 })
    expect(await db.agents.delete(a.id)).toBe(true)
  })

  test.skipIf(!bouncerInstalled)('PgBouncer in transaction mode in front of the primary: read-your-writes still holds', async () => {
    const bouncer = await PgBouncer.start({ serverPort: pair.primary.port, poolSize: 2 })
    try {
      await using db = await Db.connect({ url: bouncer.url('postgres'), replicas: [pair.delayed.url()], preparedStatements: false })
      for (let i = 0; i < 3; i++) {
        const created = await db.agents.create(agent(`bouncer-${i}`))
        expect((await db.agents.get(created.id))?.name).toBe(`bouncer-${i}`)
      }
      await pair.caughtUp(pair.delayed) // this Db's writes are on the replica: nothing to wait for
      const elsewhere = await other.agents.create(agent('bouncer-other'))
      expect(await db.agents.get(elsewhere.id)).toBeNull() // the read went to the delayed replica
    } finally {
      await bouncer.stop()
    }
  })

  // Last: it stops the primary.
  test('primary stopped: reads of replicated rows are served by the replicas; writes fail with ConnectionError', async () => {
    const logger = recordingLogger()
    await using db = await open({ replicas: [pair.replica.url()], logger })
    const a = await db.agents.create(agent('primary-down'))
    const user = await db.users.create({ email: 'primary-down@example.com' })
    const session = await db.sessions.create({ userId: user.id, agentId: a.id })
    await db.messages.create({ sessionId: session.id, role: 'user', textContent: 'replicated before the outage' })
    await db.memories.create({ name: 'favourite colour', content: 'teal', agentId: a.id })
    await pair.caughtUp(pair.replica)

    // The first read after these writes cannot ask the primary for its position: one warning, and
    // the replica serves what it has.
    await pair.primary.stopServer('fast')
    try {
      expect((await db.agents.get(a.id))?.name).toBe('primary-down')
      expect(logger.matching('the primary does not answer')).toHaveLength(1)
      const fuzzy = await db.memories.search({ text: 'favourite colr', mode: 'fuzzy', agentId: a.id })
      expect(fuzzy.map((h) => h.item.content)).toEqual(['teal']) // a transaction (planner settings) on the replica
      expect((await db.users.getByEmail('primary-down@example.com'))?.id).toBe(user.id)
      expect((await db.messages.listBySession(session.id)).map((m) => m.textContent)).toEqual(['replicated before the outage'])
      expect((await db.context.load(session.id))?.session.id).toBe(session.id)
      const hits = await db.messages.search({ text: 'outage', sessionId: session.id })
      expect(hits.map((h) => h.item.id)).toHaveLength(1)
      await expect(db.agents.create(agent('during-outage'))).rejects.toBeInstanceOf(ConnectionError)
      expect((await db.agents.get(a.id))?.name).toBe('primary-down')
      expect(logger.matching('the primary does not answer')).toHaveLength(1)
    } finally {
      await pair.primary.startServer()
    }
  }, 30_000)
})
