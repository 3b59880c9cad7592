// Db.connect checks its options before opening anything, and frees what it opened when a later
// step (migrate: true) fails.
import { describe, expect, test } from 'vitest'
import pg from 'pg'
import { ConnectionError, Db, MigrationError, ValidationError } from '../../src/index.js'
import { admin, withDatabase } from '../../src/testing/server-admin.js'
import { backend, serverUrl } from '../support/test-db.js'

describe('Db.connect options', () => {
  test.each([
    ['poolSize', { poolSize: 0 }],
    ['poolSize', { poolSize: 2.5 }],
    ['statementTimeout', { statementTimeout: -1 }],
    ['connectTimeout', { connectTimeout: Number.NaN }],
    ['dataDir', { dataDir: 42 as never }],
    ['applicationName', { applicationName: '' }],
  ])('%s out of range is a ValidationError naming it', async (field, options) => {
    const error = await Db.connect({ embedded: true, ...options }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).fields).toContain(field)
  })

  test('an embedded database that cannot start is a ConnectionError', async () => {
    const error = await Db.connect({ dataDir: '/proc/automagik-db-cannot-write-here/x' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionError)
    expect(error).toMatchObject({ code: 'EMBEDDED' })
  })
})

describe.skipIf(backend !== 'postgres')('Db.connect({ migrate: true }) on the server', () => {
  test('a failed migration closes the pool it opened', async () => {
    const name = `amdb_connect_${process.pid}`
    await admin(serverUrl, `DROP DATABASE IF EXISTS ${name}`)
    await admin(serverUrl, `CREATE DATABASE ${name}`)
    const url = withDatabase(serverUrl, name)
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      await client.query('CREATE TABLE agents (id int)') // the migration's CREATE TABLE agents fails
      const applicationName = `amdb_leak_${process.pid}`
      const error = await Db.connect({ url, migrate: true, applicationName }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(MigrationError)
      // The pool has sent its Terminate messages, but a backend leaves pg_stat_activity a moment
      // after that: poll until none is left. A pool left open keeps its backends, and fails this.
      const backends = async (): Promise<number> =>
        (
          await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [
            applicationName,
          ])
        ).rows[0]!.n
      const deadline = Date.now() + 5_000
      let left = await backends()
      while (left !== 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        left = await backends()
      }
      expect(left, `${left} backend(s) of application_name ${applicationName} still connected 5 s after Db.connect failed`).toBe(0)
    } finally {
      await client.end()
      await admin(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    }
  })
})
