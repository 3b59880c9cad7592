import pg from 'pg'
import { parseIntoClientConfig } from 'pg-connection-string'
import { translateError } from '../pg-errors.js'

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
  const client = new pg.Client(parseIntoClientConfig(url))
  try {
    await client.connect()
    await client.query(statement)
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
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}
