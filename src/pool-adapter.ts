import { AsyncLocalStorage } from 'node:async_hooks'
import type { Pool, PoolClient, QueryConfig, QueryResult } from 'pg'
import type { PostgresPool, PostgresPoolClient } from 'kysely'
import { ConnectionError, DbClosedError, TimeoutError, type DataLayerError } from './errors.js'
import { translateError } from './pg-errors.js'
import type { Logger } from './logger.js'

/** Distinct SQL texts that get a named prepared statement; past this, statements run unnamed. */
const MAX_NAMED_STATEMENTS = 2000

/** How the adapter behaves; set once by {@link Db.connect}. */
export interface PoolAdapterOptions {
  /** Name statements by their SQL text so each connection parses and plans them once. */
  preparedStatements: boolean
  /** The pool has one connection (embedded PGlite): detect waits that can never end. */
  singleConnection: boolean
  /**
   * Client-side limit per query, in ms (0 = none). When it passes the connection is destroyed
   * (never handed back busy) and the caller gets a TimeoutError. Guards against a frozen server.
   */
  clientTimeout: number
  logger: Logger | undefined
  /** Strings that must never appear in an error message (the password). */
  secrets: readonly string[]
}

/** Marks the async context of a transaction callback, to detect a self-deadlock on one connection. */
export const transactionScope = new AsyncLocalStorage<PoolAdapter>()

/**
 * Kysely's view of the `pg.Pool`: hands out clients whose `query` names prepared statements,
 * translates errors into typed ones, guards against frozen servers, and discards broken
 * connections. Every query of a Db, through Kysely or `db.query`, passes through here.
 */
export class PoolAdapter implements PostgresPool {
  readonly #pool: Pool
  readonly #options: PoolAdapterOptions
  readonly #names = new Map<string, string>()
  readonly #adapted = new WeakMap<PoolClient, AdaptedClient>()
  #closed = false
  /** Transactions currently holding a connection (used only on a single-connection pool). */
  controlledOpen = 0

  constructor(pool: Pool, options: PoolAdapterOptions) {
    this.#pool = pool
    this.#options = options
    pool.on('error', (err) => {
      // An idle client lost its connection: pg removes it from the pool. Without this
      // listener the 'error' event would crash the process.
      this.#options.logger?.warn({ err: this.redact(err) }, 'automagik-db: idle connection lost')
    })
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Pool counters, for monitoring. */
  get stats(): { total: number; idle: number; waiting: number } {
    return { total: this.#pool.totalCount, idle: this.#pool.idleCount, waiting: this.#pool.waitingCount }
  }

  /** Acquires a connection (Kysely calls this for every query outside a transaction). */
  async connect(): Promise<PostgresPoolClient> {
    if (this.#closed) throw new DbClosedError()
    if (this.#options.singleConnection && this.#pool.idleCount === 0 && this.#pool.totalCount > 0) {
      if (this.controlledOpen > 0 && transactionScope.getStore() === this) {
        throw new ConnectionError(
          'deadlock: this query waits for the embedded database\'s only connection, which the ' +
            'open transaction around it holds. Run it on the transaction\'s Db (the `tx` passed to ' +
            'your callback) instead of the root Db.',
          { code: 'SELF_DEADLOCK' },
        )
      }
    }
    let client: PoolClient
    try {
      client = await this.#pool.connect()
    } catch (err) {
      throw this.translate(err)
    }
    let adapted = this.#adapted.get(client)
    if (adapted === undefined) {
      // One wrapper per pg client, so Kysely's per-client connection cache keeps hitting.
      adapted = new AdaptedClient(client, this)
      this.#adapted.set(client, adapted)
      client.on('error', (err) => {
        // A checked-out client lost its connection; the query in flight rejects on its own.
        this.#options.logger?.warn({ err: this.redact(err) }, 'automagik-db: connection lost')
      })
    }
    adapted.broken = false
    return adapted
  }

  /** The pool's options (Kysely reads them); the password in them is a function, not a string. */
  get options(): object {
    return this.#pool.options
  }

  /** Closes every connection. */
  async end(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#pool.end()
  }

  /** Runs `text` on `client`, named when prepared statements are on. */
  run(client: PoolClient, text: string, values: readonly unknown[]): Promise<QueryResult> {
    const config: QueryConfig = { text, values: values as unknown[] }
    if (this.#options.preparedStatements && values.length > 0) {
      const name = this.#nameFor(text)
      if (name !== undefined) config.name = name
    }
    return client.query(config)
  }

  #nameFor(text: string): string | undefined {
    let name = this.#names.get(text)
    if (name === undefined && this.#names.size < MAX_NAMED_STATEMENTS) {
      name = `amdb_${this.#names.size.toString(36)}`
      this.#names.set(text, name)
    }
    return name
  }

  /** Embedded PGlite: its one session can't be replaced, so it is never destroyed. */
  get singleConnection(): boolean {
    return this.#options.singleConnection
  }

  get clientTimeout(): number {
    return this.#options.clientTimeout
  }

  /** Typed, with every secret removed from the message. */
  translate(err: unknown): DataLayerError {
    return this.redact(translateError(err))
  }

  redact<E>(err: E): E {
    if (!(err instanceof Error) || this.#options.secrets.length === 0) return err
    for (const secret of this.#options.secrets) {
      if (err.message.includes(secret)) err.message = err.message.split(secret).join('****')
      if (err.stack?.includes(secret)) err.stack = err.stack.split(secret).join('****')
    }
    if (err.cause instanceof Error && err.cause !== err) this.redact(err.cause)
    return err
  }
}

/** A checked-out client as Kysely sees it. */
class AdaptedClient implements PostgresPoolClient {
  readonly #client: PoolClient
  readonly #adapter: PoolAdapter
  /** Set when the connection must not go back to the pool. */
  broken = false

  constructor(client: PoolClient, adapter: PoolAdapter) {
    this.#client = client
    this.#adapter = adapter
  }

  // Kysely calls query(sql, params) for statements and query(cursor) for streams.
  query(text: any, values?: readonly unknown[]): any {
    if (typeof text !== 'string') return this.#client.query(text)
    const timeout = this.#adapter.clientTimeout
    const pending = this.#adapter.run(this.#client, text, values ?? [])
    const guarded = timeout > 0 ? this.#withDeadline(pending, timeout) : pending
    return guarded.catch((err: unknown) => {
      const typed = this.#adapter.translate(err)
      if (typed instanceof ConnectionError) this.broken = true
      throw typed
    })
  }

  #withDeadline(pending: Promise<QueryResult>, ms: number): Promise<QueryResult> {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.broken = true
        // The server did not answer in time (frozen or unreachable): drop the socket so the
        // connection can never be reused while a statement may still be running on it.
        const conn = (this.#client as unknown as { connection?: { stream?: { destroy(): void } } }).connection
        conn?.stream?.destroy()
        reject(new TimeoutError(`no answer from the server within ${ms} ms; connection dropped`, { code: '57014' }))
      }, ms)
    })
    return Promise.race([pending, deadline]).finally(() => clearTimeout(timer))
  }

  release(destroy?: boolean): void {
    const discard = (destroy || this.broken) && !this.#adapter.singleConnection
    this.#client.release(discard ? true : undefined)
  }
}
