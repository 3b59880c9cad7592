import { AsyncLocalStorage } from 'node:async_hooks'
import type { Pool, PoolClient, QueryConfig, QueryResult } from 'pg'
import type { PostgresPool, PostgresPoolClient } from 'kysely'
import { ConnectionError, DbClosedError, type DataLayerError } from './errors.js'
import { translateError } from './pg-errors.js'
import { DEFAULTS } from './connect-options.js'
import { AdaptedClient, CANCEL_GRACE_MS, settlesWithin } from './adapted-client.js'
import { redactSecrets } from './redact.js'
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
  /**
   * How long `end()` lets checked-out connections finish their work, in ms. After it, running
   * statements are cancelled and the remaining connections are destroyed. Default 10 000.
   */
  closeTimeout?: number
  logger: Logger | undefined
  /** Strings that must never appear in an error message (the password). */
  secrets: readonly string[]
}

/** Marks the async context of a transaction callback, to detect a self-deadlock on one connection. */
export const transactionScope = new AsyncLocalStorage<PoolAdapter>()

/**
 * Kysely's view of the `pg.Pool`: hands out clients whose `query` names prepared statements,
 * translates errors into typed ones, guards against frozen servers, discards broken
 * connections, and closes gracefully. Every query of a Db, through Kysely or `db.query`, passes
 * through here.
 */
export class PoolAdapter implements PostgresPool {
  readonly #pool: Pool
  readonly #options: PoolAdapterOptions
  readonly #names = new Map<string, string>()
  readonly #adapted = new WeakMap<PoolClient, AdaptedClient>()
  /** Clients handed out and not yet released. */
  readonly #checkedOut = new Set<AdaptedClient>()
  #closed = false
  #watchdog: NodeJS.Timeout | undefined
  #ended: Promise<void> | undefined
  /** Transactions currently holding a connection (used only on a single-connection pool). */
  controlledOpen = 0

  constructor(pool: Pool, options: PoolAdapterOptions) {
    this.#pool = pool
    this.#options = options
    pool.on('error', (err) => {
      // An idle client lost its connection: pg removes it from the pool. Without this
      // listener the 'error' event would crash the process.
      this.#options.logger?.warn({ err: this.describe(err) }, 'automagik-db: idle connection lost')
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
    return this.#lend(await this.#acquire())
  }

  async #acquire(): Promise<PoolClient> {
    const waitedFor = this.#pool.options.connectionTimeoutMillis
    try {
      return await this.#pool.connect()
    } catch (err) {
      if (this.#closed) throw new DbClosedError({ cause: this.redact(err) })
      const message = err instanceof Error ? err.message : ''
      if (message === 'timeout exceeded when trying to connect') {
        // pg-pool says this only when the caller waited in the queue for a busy pool.
        const message =
          this.#options.singleConnection && this.controlledOpen > 0
            ? `no connection within ${waitedFor} ms: the embedded database's only connection is held ` +
              "by an open transaction (a test fixture?). Run this query on the transaction's Db."
            : `no free connection within ${waitedFor} ms: all ${this.#pool.options.max} connections of ` +
              'the pool are busy (raise poolSize or connectTimeout, or shorten transactions)'
        throw this.redact(new ConnectionError(message, { code: 'POOL_TIMEOUT', cause: err }))
      }
      // Any failure to get a connection is a connection failure, whatever the server said
      // (28P01 wrong password, 3D000 no such database, 53300 too many connections, …).
      const typed = this.translate(err)
      if (typed instanceof ConnectionError) throw typed
      const code = typed.code === 'QUERY' ? 'CONNECTION' : typed.code
      throw this.redact(new ConnectionError(typed.message, { code, cause: err }))
    }
  }

  #lend(client: PoolClient): AdaptedClient {
    let adapted = this.#adapted.get(client)
    if (adapted === undefined) {
      // One wrapper per pg client, so Kysely's per-client connection cache keeps hitting.
      const created = new AdaptedClient(client, this)
      adapted = created
      this.#adapted.set(client, created)
      client.on('error', (err) => {
        // A checked-out client lost its connection (e.g. terminated while its transaction waits
        // for the caller). Remember why: the next query on it fails with this SQLSTATE.
        created.lostWith ??= err
        this.#options.logger?.warn({ err: this.describe(err) }, 'automagik-db: connection lost')
      })
    }
    adapted.broken = false
    adapted.lostWith = undefined
    adapted.cancelledByClose = false
    adapted.timedOut = false
    adapted.busySince = 0
    this.#checkedOut.add(adapted)
    if (this.#options.clientTimeout > 0) this.#watchdog ??= this.#startWatchdog()
    return adapted
  }

  /**
   * One timer per pool instead of one per query: every so often, drops the connections whose
   * statement has waited longer than the client timeout for the server's answer.
   */
  #startWatchdog(): NodeJS.Timeout {
    const limit = this.#options.clientTimeout
    const timer = setInterval(() => {
      const now = performance.now()
      for (const client of this.#checkedOut) {
        if (client.busySince > 0 && now - client.busySince > limit) client.timeOut()
      }
    }, Math.max(10, Math.min(500, limit / 4)))
    timer.unref()
    return timer
  }

  /** Called by a client when it goes back to the pool. */
  returned(client: AdaptedClient): void {
    this.#checkedOut.delete(client)
  }

  /** The pool's options (Kysely reads them); the password in them is a function, not a string. */
  get options(): object {
    return this.#pool.options
  }

  /**
   * Closes the pool gracefully: new work fails with DbClosedError at once, idle connections close,
   * and connections in use may finish until `closeTimeout`. Then their running statements are
   * cancelled (rolled back by the server) and, after a short grace, their sockets are destroyed,
   * so close() always ends. Safe to call more than once.
   */
  end(): Promise<void> {
    this.#closed = true
    this.#ended ??= this.#end()
    return this.#ended
  }

  async #end(): Promise<void> {
    try {
      await this.#endPool()
    } finally {
      clearInterval(this.#watchdog)
    }
  }

  async #endPool(): Promise<void> {
    const ended = this.#pool.end().catch((err: unknown) => {
      this.#options.logger?.warn({ err: this.describe(err) }, 'automagik-db: closing the pool failed')
    })
    const limit = this.closeTimeout
    if (await settlesWithin(ended, limit)) return
    const busy = [...this.#checkedOut]
    this.#options.logger?.warn(
      { connections: busy.length, closeTimeout: limit },
      'automagik-db: close timeout passed; cancelling the statements still running',
    )
    await Promise.all(busy.map((c) => c.cancelForClose()))
    if (await settlesWithin(ended, CANCEL_GRACE_MS)) return
    // Still held (a transaction waiting on its caller, or a server that does not answer): cut the
    // sockets. The server rolls back any transaction left open on them.
    for (const c of this.#checkedOut) c.destroy()
    await settlesWithin(ended, CANCEL_GRACE_MS)
  }

  get closeTimeout(): number {
    return this.#options.closeTimeout ?? DEFAULTS.closeTimeout
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

  /** Where cancel requests go (the server's host and port). */
  get cancelTarget(): { host: string; port: number } | undefined {
    if (this.#options.singleConnection) return undefined
    const { host, port } = this.#pool.options as { host?: string; port?: number }
    return { host: host ?? 'localhost', port: Number(port ?? 5432) }
  }

  /** Typed, with every secret removed. */
  translate(err: unknown): DataLayerError {
    return this.redact(translateError(err))
  }

  /**
   * Removes every secret from an error: its message, stack, every string property (detail,
   * hint, …), and the same for each error in its `cause` chain. Mutates and returns `err`.
   */
  redact<E>(err: E): E {
    redactSecrets(err, this.#options.secrets)
    return err
  }

  /**
   * A plain, redacted description of an error for log records: never the error object itself,
   * which can carry the pg client (and through it the connection parameters).
   */
  describe(err: unknown): Record<string, unknown> {
    const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as Record<string, unknown>
    const out: Record<string, unknown> = {
      type: e instanceof Error ? e.name : typeof err,
      message: typeof e.message === 'string' ? e.message : String(err),
    }
    if (typeof e.code === 'string') out.code = e.code
    if (typeof e.stack === 'string') out.stack = e.stack
    redactSecrets(out, this.#options.secrets)
    return out
  }
}
