import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ConnectionError, Db } from '../../src/index.js'
import { backend, openTestDb } from '../support/test-db.js'
import { Cluster, clusterSupported } from './support/cluster.js'
import { Admin, databaseOf } from './support/server.js'
import { failure } from './support/wait.js'

// Issue 5, item 2: a connection lost while COMMIT is in flight. The client cannot know whether
// the server committed, so the error must say "outcome unknown" — not success, not a plain
// failure that invites a blind retry. Two deterministic ways to lose a COMMIT:
//  - a deferred constraint trigger that sleeps at COMMIT time, killed → the server had not
//    committed yet;
//  - synchronous replication to a standby that does not exist (private cluster), killed while
//    COMMIT waits for it → the server HAD committed locally.
// Both must be reported the same way, because the client cannot tell them apart.
describe.skipIf(backend !== 'postgres')('a COMMIT whose answer is lost', () => {
  describe('killed while a deferred trigger runs at COMMIT (shared server)', () => {
    let db: Db
    let admin: Admin
    let database: string

    beforeAll(async () => {
      db = await openTestDb({ poolSize: 2, statementTimeout: 120_000 })
      admin = await Admin.connect()
      database = await databaseOf(db)
      await db.query(`
        CREATE FUNCTION amdb_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.name LIKE 'slow-commit%' THEN PERFORM pg_sleep(60); END IF;
          RETURN NULL;
        END $$`)
      await db.query(`
        CREATE CONSTRAINT TRIGGER amdb_slow_commit AFTER INSERT ON agents
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION amdb_slow_commit()`)
    })
    afterAll(async () => {
      await admin?.close()
      await db?.close()
    })

    test('db.transaction: ConnectionError with outcomeUnknown and 57P01; the pool recovers', async () => {
      const running = failure(() =>
        db.transaction(async (tx) => {
          await tx.agents.create({ name: 'slow-commit-1', type: 't', model: 'm' })
        }),
      )
      const pid = await admin.waitForBackend(database, { query: 'commit', waitEvent: 'PgSleep' })
      await admin.terminate([pid])
      const { error } = await running
      expect(error).toBeInstanceOf(ConnectionError)
      expect(error).toMatchObject({ outcomeUnknown: true, code: '57P01' })
      expect((error as Error).message).toMatch(/outcome is unknown/)
      // Here the server had not committed: checking (as the error tells the caller to) shows it.
      expect(await db.agents.getByName('slow-commit-1')).toBeNull()
      expect(await db.agents.count()).toBe(0)
    })

    test('startTransaction().commit(): the same', async () => {
      const handle = await db.startTransaction()
      await handle.db.agents.create({ name: 'slow-commit-2', type: 't', model: 'm' })
      const running = failure(() => handle.commit())
      const pid = await admin.waitForBackend(database, { query: 'commit', waitEvent: 'PgSleep' })
      await admin.terminate([pid])
      const { error } = await running
      expect(error).toBeInstanceOf(ConnectionError)
      expect(error).toMatchObject({ outcomeUnknown: true })
      expect(handle.isOpen).toBe(false)
      expect(await db.agents.getByName('slow-commit-2')).toBeNull()
      await db.agents.create({ name: 'fine', type: 't', model: 'm' })
      expect(await db.agents.count()).toBe(1)
    })
  })

  describe.skipIf(!clusterSupported())('killed while COMMIT waits for a synchronous standby (private cluster)', () => {
    let cluster: Cluster
    let db: Db
    let admin: Admin

    beforeAll(async () => {
      // Every COMMIT that asks for synchronous_commit=on waits for "ghost", which never comes.
      cluster = await Cluster.start({ settings: ["synchronous_standby_names = 'ghost'", 'synchronous_commit = local'] })
      db = await Db.connect({ url: cluster.url(), poolSize: 2, migrate: true })
      admin = await Admin.connect(cluster.url())
    }, 120_000)
    afterAll(async () => {
      await admin?.close()
      await db?.close()
      await cluster?.destroy()
    })

    test('ConnectionError with outcomeUnknown — and the transaction did commit', async () => {
      const running = failure(() =>
        db.transaction(async (tx) => {
          await tx.query('SET LOCAL synchronous_commit = on')
          await tx.agents.create({ name: 'committed-locally', type: 't', model: 'm' })
        }),
      )
      const pid = await admin.waitForBackend('postgres', { query: 'commit', waitEvent: 'SyncRep' })
      await admin.terminate([pid])
      const { error } = await running
      expect(error).toBeInstanceOf(ConnectionError)
      expect(error).toMatchObject({ outcomeUnknown: true })
      // The row is there: a caller that treated the error as "rolled back" and retried an
      // insert would have written it twice. That is why the outcome is reported as unknown.
      expect((await db.agents.getByName('committed-locally'))?.name).toBe('committed-locally')
    })
  })
})
