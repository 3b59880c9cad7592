import { afterAll, describe, expect, test } from 'vitest'
import { admin, withDatabase } from '../../src/testing/server-admin.js'
import { backend, serverUrl } from '../support/test-db.js'
import { cli, SLOW, tempDir, writeFailingMigration } from './support.js'

// Issue 9 §2: the password in a connection string is never printed — not in a connection
// failure, not in a usage error about the URL, not in a failing migration's error.
const SECRET = 's3cret'

function expectNoSecret(r: { stdout: string; stderr: string }): void {
  expect(r.stdout + r.stderr).not.toContain(SECRET)
}

describe.concurrent('automagik-db never prints the password', { timeout: SLOW }, () => {
  test('a server that cannot be reached (--url): exit 1, the error says why, no password', async () => {
    const r = await cli(['migrate', 'status', '--url', `postgres://u:${SECRET}@127.0.0.1:1/x`])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/ConnectionError/)
    expectNoSecret(r)
  })

  test('the same through DATABASE_URL', async () => {
    const r = await cli(['migrate', 'latest'], { env: { DATABASE_URL: `postgresql://u:${SECRET}@127.0.0.1:1/x` } })
    expect(r.code).toBe(1)
    expectNoSecret(r)
  })

  test('a URL the parser rejects: a usage error naming --url, without the URL', async () => {
    const r = await cli(['migrate', 'status', `--url=postgres://u:${SECRET}@[::1/x`])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--url is not a valid URL/)
    expectNoSecret(r)
  })

  test('a URL given where no URL is expected: the unknown flag or command is not echoed', async () => {
    for (const args of [
      ['migrate', 'status', '--data-dir', '/tmp/x', `--uri=postgres://u:${SECRET}@h/x`],
      [`postgres://u:${SECRET}@h/x`],
      ['migrate', `postgres://u:${SECRET}@h/x`],
    ]) {
      const r = await cli(args)
      expect(r.code).toBe(2)
      expectNoSecret(r)
    }
  })
})

describe.runIf(backend === 'postgres')('automagik-db never prints the password (server)', { timeout: SLOW }, () => {
  const name = `amdb_cli_pw_${process.pid}`
  afterAll(() => admin(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))

  /** The test server's URL with a password added (the server does not check it). */
  const withPassword = (url: string) => {
    const u = new URL(url)
    u.password = SECRET
    return u.toString()
  }

  test('a migration that fails on a server reached with a password: exit 1, no password', async () => {
    await admin(serverUrl, `CREATE DATABASE ${name}`)
    const dir = await tempDir('broken')
    try {
      await writeFailingMigration(dir.path)
      const r = await cli(['migrate', 'latest', '--url', withPassword(withDatabase(serverUrl, name)), '--migrations', dir.path])
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/0003-broken/)
      expectNoSecret(r)
    } finally {
      await dir.remove()
    }
  })

  test('a database that does not exist: exit 1, no password', async () => {
    const r = await cli(['migrate', 'status', '--url', withPassword(withDatabase(serverUrl, 'amdb_no_such_database'))])
    expect(r.code).toBe(1)
    expectNoSecret(r)
  })
})
