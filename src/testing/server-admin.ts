import pg from 'pg'
import { parseIntoClientConfig } from 'pg-connection-string'
import { translateError } from '../pg-errors.js'
import { ConnectionError } from '../errors.js'

/**
 * Runs one statement (CREATE / DROP DATABASE) on its own short-lived connection to the server
 * at `url`; failures are typed errors.
 *
 * @example
 * ```ts
 * await admin(url, 'CREATE DATABASE scratch')
 * ```
 */
export async function admin(url: string, statement: string): Promise<void> {
  await withAdmin(url, async (client) => {
    await client.query(statement)
  })
}

/**
 * Runs `fn` with a short-lived connection to the server at `url` (one session: advisory locks
 * taken in it hold until `fn` settles); failures are typed errors.
 *
 * @example
 * ```ts
 * const names = await withAdmin(url, async (c) => (await c.query('SELECT datname FROM pg_database')).rows)
 * ```
 */
export async function withAdmin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(parseUrl(url))
  try {
    await client.connect()
    return await fn(client)
  } catch (err) {
    throw translateError(err)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/**
 * `url` with its database replaced by `database`.
 *
 * @example
 * ```ts
 * withDatabase('postgres://u@h:5432/postgres', 'scratch') // 'postgres://u@h:5432/scratch'
 * ```
 */
export function withDatabase(url: string, database: string): string {
  parseUrl(url)
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

function parseUrl(url: string): pg.ClientConfig {
  try {
    new URL(url)
    return parseIntoClientConfig(url)
  } catch {
    // The parser's error can quote the URL, password included: say only that it is invalid.
    throw new ConnectionError('the database URL is not a valid PostgreSQL connection string', { code: 'INVALID_URL' })
  }
}
