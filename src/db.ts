import { inspect } from 'node:util'
import type { Kysely } from 'kysely'
import type { Database } from './generated/database.js'
import type { DbOptions } from './connect-options.js'
import { openDb } from './db-connect.js'
import { assertSchemaName } from './db-open.js'
import { migrateDownLatest, migrateLatest, migrationStatusOf, runMigrator, type MigrationStatus, type Migrators } from './migrator.js'
import type { QueryContext } from './execution/query-context.js'
import type { RepositoryClass, Shared } from './db-types.js'
import { MisuseError, ValidationError } from './errors.js'
import { withPinnedConnection } from './execution/pinned.js'
import { Scope } from './execution/scope.js'
import { runBatch, runQuery } from './execution/batch.js'
import type { Features } from './execution/extensions.js'
import { openTransaction, runTransaction, type IsolationLevel, type TransactionOptions } from './execution/transaction.js'
import { repositories, type Repositories, type RepositoryName } from './repositories/registry.js'

/** A transaction you end yourself (see {@link Db.startTransaction}). */
export interface TransactionHandle<Tables = {}> {
  /** A Db bound to this transaction. */
  readonly db: Db<Tables>
  /** True until commit() or rollback() is called. */
  readonly isOpen: boolean
  /** Commits (or releases the savepoint). */
  commit(): Promise<void>
  /** Rolls back (or rolls back to the savepoint). */
  rollback(): Promise<void>
}

/**
 * The data layer: the pool, the migrator, transactions and the repositories. Construct it once
 * with {@link Db.connect}, pass it into your services, and close it on shutdown.
 *
 * A Db bound to a transaction (the `tx` given to {@link Db.transaction}'s callback) has the same
 * API; everything done through it is part of that transaction. `Tables` are the app's own tables
 * (from its migrations), typed next to ours in {@link Db.kysely}.
 *
 * @example
 * ```ts
 * await using db = await Db.connect() // embedded PGlite; or { url: 'postgres://…' }
 * await db.migrate()
 * const agent = await db.agents.create({ name: 'helper', type: 'simple', model: 'gpt-4' })
 * ```
 */
export class Db<Tables = {}> implements AsyncDisposable {
  readonly #scope: Scope
  readonly #shared: Shared
  readonly #owner: boolean // only the Db made by connect() closes the pool
  readonly #repositories: Partial<Record<RepositoryName, unknown>> = {}
  /** The app's repositories made by {@link Db.repository}, one per class. */
  readonly #appRepositories = new Map<Function, unknown>()
  #primaryDb: Db<Tables> | undefined

  static {
    // One getter per entry of the registry; each repository is made on first use, so a
    // transaction's Db only pays for the ones it touches. `this`, not `Db`: tsc's output names
    // the class through an alias assigned after the class body, so `Db` is undefined here in dist/.
    for (const name of Object.keys(repositories) as RepositoryName[]) {
      Object.defineProperty(this.prototype, name, {
        configurable: true,
        enumerable: false,
        get(this: Db) {
          return (this.#repositories[name] ??= new repositories[name](this.#scope))
        },
      })
    }
  }

  /** Use {@link Db.connect}. */
  private constructor(scope: Scope, shared: Shared, owner = false) {
    this.#scope = scope
    this.#shared = shared
    this.#owner = owner
  }

  /**
   * Typed Kysely for queries the repositories don't cover (our tables and the app's); bound to
   * the transaction, if any.
   */
  get kysely(): Kysely<Database & Tables> {
    return this.#scope.kysely as unknown as Kysely<Database & Tables>
  }

  /**
   * The app's repository `cls`, bound to this Db: on a transaction's Db it runs in the
   * transaction, on a test fixture's Db inside the test's rollback. Made once per Db; `cls` is a
   * BaseRepository subclass or any class whose constructor takes the executor it is given.
   *
   * @example
   * ```ts
   * class Counter {
   *   constructor(private readonly executor: QueryContext) {}
   *   agents() { return this.executor.kysely.selectFrom('agents').select('id').execute() }
   * }
   * const ids = await db.repository(Counter).agents()
   * ```
   */
  repository<R>(cls: RepositoryClass<R, Tables>): R {
    if (typeof cls !== 'function') {
      throw new ValidationError([{ field: 'cls', messages: ['must be a repository class'] }], 'db.repository')
    }
    let repo = this.#appRepositories.get(cls) as R | undefined
    if (repo === undefined) {
      repo = new cls(this.#scope as unknown as QueryContext<Database & Tables>)
      this.#appRepositories.set(cls, repo)
    }
    return repo
  }

  /**
   * Opens a Db: PostgreSQL when `url` (or `DATABASE_URL`) is set, embedded PGlite otherwise.
   *
   * @example
   * ```ts
   * const db = await Db.connect({ url: process.env.DATABASE_URL, poolSize: 20 })
   * const local = await Db.connect({ dataDir: './data' }) // PGlite on disk
   * const quiet = await Db.connect({ embedded: true, telemetry: false }) // no OpenTelemetry spans or metrics
   * ```
   */
  static async connect<Tables = {}>(options: DbOptions = {}): Promise<Db<Tables>> {
    const { root, lifetime, appMigrations } = await openDb(options)
    const db = new Db<Tables>(new Scope(root, undefined, ''), { lifetime, appMigrations }, true)
    try {
      // Fails fast with a clear error when the server can't be reached; migrate() reads them too.
      await (options.migrate ? db.migrate() : root.extensions.refresh((sql) => new Scope(root, undefined, '', 'read').readRows(sql)))
    } catch (err) {
      await lifetime.close().catch(() => undefined)
      throw err
    }
    return db
  }

  /**
   * This Db reading from the primary only (see {@link DbOptions.replicas}): for a read that must
   * see what another process has just written. Without replicas, this Db.
   *
   * @example
   * ```ts
   * const fresh = await db.primary.messages.listBySession(sessionId)
   * ```
   */
  get primary(): Db<Tables> {
    const scope = this.#scope
    if (scope.root.router === undefined || scope.binding !== undefined || scope.routing === 'primary') return this
    return (this.#primaryDb ??= new Db<Tables>(scope.routed('primary'), this.#shared))
  }

  /** Optional capabilities: `vector` (pgvector) and `trigram` (pg_trgm) search. */
  get features(): Features {
    return this.#scope.root.extensions.features
  }

  /** `postgres` for a server, `pglite` for the embedded database. */
  get backend(): 'postgres' | 'pglite' {
    return this.#shared.lifetime.backend
  }

  /** True when this Db is bound to a transaction (or a savepoint inside one). */
  get isTransaction(): boolean {
    return this.#scope.binding?.inTransaction ?? false
  }

  /** The schema this Db addresses (see {@link Db.withSchema}), or undefined for the default. */
  get schema(): string | undefined {
    return this.#scope.schema === '' ? undefined : this.#scope.schema
  }

  /** Pool counters: connections open, idle, and callers waiting for one. */
  get poolStats(): { total: number; idle: number; waiting: number } {
    return this.#scope.root.runner.stats
  }

  /**
   * A Db whose repositories and `kysely` address the tables of `schema` (schema per tenant):
   * same pool, same API, transactions included. `migrate()` on it creates the schema and its
   * tables. Raw SQL (`query`, `batch`) runs as written: qualify tenant tables yourself.
   *
   * @example
   * ```ts
   * const tenant = db.withSchema('tenant_b')
   * await tenant.migrate()
   * await tenant.transaction(async (tx) => tx.agents.create({ name: 'a', type: 't', model: 'm' }))
   * ```
   */
  withSchema(schema: string): Db<Tables> {
    assertSchemaName(schema)
    return new Db<Tables>(this.#scope.withSchema(schema), this.#shared)
  }

  /**
   * Applies every pending migration, the package's first, then the app's (`migrations` of
   * {@link Db.connect}); returns the names applied. Each side is recorded in its own table, so
   * a later release of automagik-db adds its migrations without touching the app's. On a
   * {@link Db.withSchema} Db, in that schema (created if missing).
   *
   * @example
   * ```ts
   * await db.migrate() // ['0001-initial-schema', …] the first time, [] after
   * ```
   */
  migrate(): Promise<string[]> {
    return this.#migrate(migrateLatest)
  }

  /**
   * Reverts the latest applied migration, the package's or the app's, whichever ran last;
   * returns its name (or nothing when none was applied).
   *
   * @example
   * ```ts
   * await db.migrateDown()
   * ```
   */
  migrateDown(): Promise<string[]> {
    return this.#migrate(migrateDownLatest)
  }

  /**
   * Every migration, the package's then the app's, each with its `owner` and when it was
   * applied (null when pending).
   *
   * @example
   * ```ts
   * const pending = (await db.migrationStatus()).filter((m) => m.executedAt === null)
   * ```
   */
  migrationStatus(): Promise<MigrationStatus[]> {
    return this.#migrate(migrationStatusOf)
  }

  #migrate<T>(op: (migrators: Migrators) => Promise<T>): Promise<T> {
    const scope = this.#scope
    const app = this.#shared.appMigrations
    return scope.binding !== undefined ? runMigrator(scope, app, op) : withPinnedConnection(scope, (pinned) => runMigrator(pinned, app, op))
  }

  /**
   * Runs `fn` in a transaction: commits when it returns, rolls back and rethrows when it throws.
   * `fn` gets a Db bound to the transaction. Called on a transaction's Db, it runs as a
   * SAVEPOINT: a throw rolls back to it and rethrows, and the outer transaction carries on. When
   * `fn` returns normally after a statement inside failed (you caught the error), PostgreSQL
   * has aborted the transaction: it is rolled back (a savepoint: back to the savepoint) and this
   * rejects with TransactionAbortedError, whose `cause` is that first failure.
   *
   * @example
   * ```ts
   * const session = await db.transaction(async (tx) => {
   *   const s = await tx.sessions.create({ userId, agentId })
   *   await tx.messages.create({ sessionId: s.id, role: 'user', textContent: 'hi' })
   *   return s
   * }, { isolationLevel: 'serializable', retries: 3 })
   * ```
   */
  transaction<T>(fn: (tx: Db<Tables>) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (typeof fn !== 'function') {
      return Promise.reject(new ValidationError([{ field: 'fn', messages: ['must be a function'] }], 'transaction'))
    }
    return runTransaction(this.#scope, (scope) => fn(this.#bound(scope)), options)
  }

  /**
   * Opens a transaction that you end yourself: the building block of test fixtures.
   *
   * @example
   * ```ts
   * const handle = await db.startTransaction()
   * await handle.db.agents.create({ name: 'a', type: 't', model: 'm' })
   * await handle.rollback() // nothing was written
   * ```
   */
  async startTransaction(options: { isolationLevel?: IsolationLevel } = {}): Promise<TransactionHandle<Tables>> {
    const tx = await openTransaction(this.#scope, options, true)
    const db = this.#bound(tx.scope)
    return {
      db,
      get isOpen() {
        return tx.isOpen
      },
      commit: () => tx.commit(),
      rollback: () => tx.rollback(),
    }
  }

  #bound(scope: Scope): Db<Tables> {
    return new Db<Tables>(scope, this.#shared)
  }

  /**
   * Runs one parameterised SQL statement (`$1`, `$2`, …) and returns its rows. Inside a
   * transaction it runs in that transaction.
   *
   * @example
   * ```ts
   * const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM agents WHERE active = $1', [true])
   * ```
   */
  query<R = Record<string, unknown>>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    return runQuery<R>(this.#scope, text, params)
  }

  /**
   * Runs one statement once per row of parameters, atomically (all rows or none), and returns
   * the total number of rows it affected. This is what the original `execute_batch` promised.
   *
   * @example
   * ```ts
   * await db.batch('INSERT INTO audit (user_id, message) VALUES ($1, $2)', [[1, 'a'], [1, 'b']])
   * ```
   */
  batch(text: string, rows: readonly (readonly unknown[])[]): Promise<number> {
    return runBatch(this.#scope, text, rows)
  }

  /**
   * Runs `fn` with a Db pinned to one connection (session settings, advisory locks, temp
   * tables). When `fn` settles the connection is reset (`DISCARD ALL`: settings, advisory
   * locks, temp tables and prepared statements; a transaction left open is rolled back) and goes
   * back to the pool, so nothing of it reaches the next caller.
   *
   * @example
   * ```ts
   * await db.withConnection(async (conn) => {
   *   await conn.query("SET statement_timeout = '5min'")
   *   await conn.query('SELECT pg_advisory_lock(42)')
   * })
   * ```
   */
  withConnection<T>(fn: (conn: Db<Tables>) => Promise<T>): Promise<T> {
    if (this.#scope.binding !== undefined) return fn(this)
    return withPinnedConnection(this.#scope, (scope) => scope.runInside(() => fn(this.#bound(scope))))
  }

  /**
   * Closes the pool (and the embedded database). Only the Db made by {@link Db.connect} can be
   * closed; queries after close fail with {@link DbClosedError}. Work in flight may finish for up
   * to `closeTimeout` ms; after it, a connection still in use takes no more statements (a late
   * COMMIT fails) and a transaction still open is rolled back, never committed. On a server the
   * running statement is cancelled; embedded PGlite runs on this process's event loop, so a
   * running statement cannot be interrupted: close() waits for it, then rolls back what is open,
   * closes PGlite and releases the `dataDir` lock. close() always returns.
   *
   * @example
   * ```ts
   * process.on('SIGTERM', () => db.close())
   * ```
   */
  async close(): Promise<void> {
    if (!this.#owner) {
      throw new MisuseError('close() is called on the Db made by Db.connect(), not on a transaction, pinned connection or schema view')
    }
    await this.#shared.lifetime.close()
  }

  /** @internal Registers work to run once the pool has closed (used by automagik-db/testing). */
  static onClose(db: Db<any>, fn: () => Promise<void>): void {
    db.#shared.lifetime.onClose(fn)
  }

  /**
   * @internal Runs `fn` as the body of `tx`'s transaction (used by automagik-db/testing): on
   * embedded PGlite, a query on the root Db inside it then fails fast with `SELF_DEADLOCK`
   * instead of waiting for the only connection, which the transaction holds.
   */
  static inTransactionScope<T>(tx: Db<any>, fn: () => Promise<T>): Promise<T> {
    return tx.#scope.runInside(fn)
  }

  /** `await using db = await Db.connect()` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** A safe description: backend and target, never the password. */
  toString(): string {
    const schema = this.schema === undefined ? '' : `, schema ${this.schema}`
    return `Db(${this.#shared.lifetime.target}${schema}${this.isTransaction ? ', transaction' : ''})`
  }

  toJSON(): { backend: string; target: string; transaction: boolean; schema?: string } {
    const { backend, schema, isTransaction: transaction } = this
    return { backend, target: this.#shared.lifetime.target, transaction, ...(schema === undefined ? {} : { schema }) }
  }

  [inspect.custom](): string {
    return this.toString()
  }
}

// The registry's getters, typed: `db.agents` is an AgentRepository, and so on.
export interface Db<Tables = {}> extends Repositories {}
