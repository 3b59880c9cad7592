import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Db } from '../../../src/index.js'
import { serverUrl } from '../../support/test-db.js'
import { waitFor } from './wait.js'

/**
 * A plain pg connection to a server, outside any Db: it plays the DBA (pg_terminate_backend,
 * pg_stat_activity) in fault tests. Only ever touches the test's own database's backends.
 */
export class Admin {
  readonly #client: pg.Client

  private constructor(client: pg.Client) {
    this.#client = client
  }

  static async connect(url = serverUrl): Promise<Admin> {
    const client = new pg.Client({ connectionString: url, application_name: 'amdb-faults-admin' })
    client.on('error', () => undefined)
    await client.connect()
    return new Admin(client)
  }

  async query<R extends pg.QueryResultRow = Record<string, any>>(text: string, values: unknown[] = []): Promise<R[]> {
    return (await this.#client.query<R>(text, values)).rows
  }

  /** Backends connected to `database` (other than this admin connection). */
  async backends(database: string, filter: { state?: string; query?: string; waitEvent?: string } = {}): Promise<number[]> {
    const rows = await this.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'
          AND ($2::text IS NULL OR state = $2)
          AND ($3::text IS NULL OR lower(query) = lower($3))
          AND ($4::text IS NULL OR wait_event = $4)`,
      [database, filter.state ?? null, filter.query ?? null, filter.waitEvent ?? null],
    )
    return rows.map((r) => r.pid)
  }

  /** pg_terminate_backend on each pid, then waits until they are gone from pg_stat_activity. */
  async terminate(pids: readonly number[]): Promise<void> {
    if (pids.length === 0) return
    await this.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids])
    await waitFor('terminated backends to exit', async () => {
      const rows = await this.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])',
        [pids],
      )
      return rows[0]!.n === 0
    })
  }

  /** Waits until a backend of `database` matches `filter` and returns its pid. */
  async waitForBackend(database: string, filter: { state?: string; query?: string; waitEvent?: string }, timeout = 10_000): Promise<number> {
    return waitFor(`a backend of ${database} matching ${JSON.stringify(filter)}`, async () => (await this.backends(database, filter))[0], {
      timeout,
    })
  }

  async close(): Promise<void> {
    await this.#client.end().catch(() => undefined)
  }
}

/** The database a Db is connected to. */
export async function databaseOf(db: Db): Promise<string> {
  const rows = await db.query<{ name: string }>('SELECT current_database() AS name')
  return rows[0]!.name
}

/** The backend pid serving a Db bound to a transaction or pinned connection. */
export async function backendPid(db: Db): Promise<number> {
  const rows = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  return rows[0]!.pid
}

/**
 * A database of the test's own on the shared server that outlives a Db's close() (unlike
 * createTestDb, which drops it on close). `drop()` removes it, forcing out any connection.
 */
export async function scratchDatabase(admin: Admin, prefix = 'amdb_faults'): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`
  await admin.query(`CREATE DATABASE ${name}`)
  const u = new URL(serverUrl)
  u.pathname = `/${name}`
  return {
    name,
    url: u.toString(),
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    },
  }
}
