import type {
  ControlledTransaction,
  IsolationLevel,
  Kysely,
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely'
import type { Database } from './generated/database.js'
import type { Db, DbCore } from './db.js'
import { ConnectionError, DataLayerError, TransactionClosedError, ValidationError } from './errors.js'
import { rethrowTyped, translateError } from './pg-errors.js'
import { AsyncLocalStorage } from 'node:async_hooks'
import { transactionScope } from './pool-adapter.js'

const ISOLATION_LEVELS: readonly IsolationLevel[] = [
  'read uncommitted',
  'read committed',
  'repeatable read',
  'serializable',
  'snapshot',
]
const MAX_RETRIES = 10

/** Options of {@link Db.transaction}. */
export interface TransactionOptions {
  /** PostgreSQL isolation level; default `read committed`. Ignored for a nested savepoint. */
  isolationLevel?: IsolationLevel
  /**
   * Run the whole function again, up to this many times, when the transaction fails with a
   * serialization failure (40001) or a deadlock (40P01). Default 0; at most 10. Only a top-level
   * transaction retries; unique violations, timeouts and your own errors never do.
   */
  retries?: number
  /** First backoff in ms before a retry; doubles each time with jitter, capped at 1 s. Default 10. */
  retryDelay?: number
}

/** A transaction you end yourself (see {@link Db.startTransaction}). */
export interface TransactionHandle {
  /** A Db bound to this transaction. */
  readonly db: Db
  /** True until commit() or rollback() is called. */
  readonly isOpen: boolean
  /** Commits (or releases the savepoint). */
  commit(): Promise<void>
  /** Rolls back (or rolls back to the savepoint). */
  rollback(): Promise<void>
}

/** What a Db lends the transaction functions: its core and, when nested, its transaction. */
export interface TransactionPort {
  core: DbCore
  trx: ControlledTransaction<Database, any[]> | undefined
  savepoints: { next: number } | undefined
  /** Where a top-level transaction starts: the root Db's Kysely, or a pinned connection's. */
  base: Kysely<Database>
  /** Serialises the savepoints opened from this Db. */
  lock: SavepointLock
  /** The guard of the transaction (or savepoint) `trx` belongs to; undefined on the root Db. */
  guard: EndedGuard | undefined
  bind(
    executor: Kysely<Database>,
    trx: ControlledTransaction<Database, any[]>,
    savepoints: { next: number },
    guard: EndedGuard,
  ): Db
}

/**
 * Refuses to compile a query for a transaction (or savepoint) that has ended, with an error that
 * says so. Raw statements (`db.query`, `db.batch`) and nested transactions call
 * {@link EndedGuard.assertOpen} themselves: a savepoint's ControlledTransaction shares the outer
 * transaction's state, so Kysely alone would run them in the outer transaction.
 */
export class EndedGuard implements KyselyPlugin {
  ended: 'committed' | 'rolled back' | 'released' | undefined
  /** The guard of the transaction (or pinned connection) this one runs inside, if any. */
  readonly #parent: EndedGuard | undefined

  constructor(parent?: EndedGuard) {
    this.#parent = parent
  }

  /** Throws {@link TransactionClosedError} once this transaction, or one around it, has ended. */
  assertOpen(): void {
    if (this.ended !== undefined) throw closedError(this.ended)
    this.#parent?.assertOpen()
  }
  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    this.assertOpen()
    return node
  }
  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result
  }
}

const closedError = (state: string): TransactionClosedError =>
  new TransactionClosedError(
    state === 'released'
      ? 'this Db was pinned to a connection by withConnection(), and its callback has ended: the ' +
          'connection went back to the pool. Use the Db only inside the callback.'
      : `this transaction is already ${state}: a query was issued after it ended (a missing await, ` +
          'or a Db from a finished test kept around). Use the Db of a transaction that is still open.',
  )

/**
 * Lets the savepoints opened from one transaction run one at a time. Two savepoints open at once
 * on one connection would interleave (releasing or rolling back one destroys the other, and the
 * whole transaction fails), so a second `tx.transaction()` waits until the first has ended.
 */
export class SavepointLock {
  /** The locks whose savepoint the current async context runs inside (to refuse waiting on one). */
  static readonly held = new AsyncLocalStorage<ReadonlySet<SavepointLock>>()

  #tail: Promise<void> = Promise.resolve()

  /** Resolves when no sibling savepoint is open, with the function that lets the next one in. */
  acquire(): Promise<() => void> {
    let release!: () => void
    const done = new Promise<void>((resolve) => (release = resolve))
    const ready = this.#tail.then(() => release)
    this.#tail = this.#tail.then(() => done)
    return ready
  }
}

/** Opens a transaction, or a SAVEPOINT when `port` is already inside one. */
export async function startTransaction(
  port: TransactionPort,
  options: { isolationLevel?: IsolationLevel } = {},
): Promise<TransactionHandle> {
  port.guard?.assertOpen()
  const guard = new EndedGuard(port.guard)
  const { core } = port
  let trx: ControlledTransaction<Database, any[]>
  let end: (commit: boolean) => Promise<void>
  let savepoints: { next: number }

  if (port.trx !== undefined && port.savepoints !== undefined) {
    savepoints = port.savepoints
    const outer = port.trx
    if (SavepointLock.held.getStore()?.has(port.lock)) {
      // Waiting here would never end: the open savepoint is the caller's own.
      throw new DataLayerError(
        "a savepoint of this transaction is open around this call: run nested work on the inner Db " +
          '(the `tx` its callback received), not on the outer one',
        { code: 'MISUSE' },
      )
    }
    const letNextIn = await port.lock.acquire()
    const name = `amdb_sp_${++savepoints.next}`
    try {
      port.guard?.assertOpen()
      trx = await outer.savepoint(name).execute().catch(rethrowTyped)
    } catch (err) {
      letNextIn()
      throw err
    }
    end = async (commit) => {
      try {
        if (!commit) await trx.rollbackToSavepoint(name).execute()
        await trx.releaseSavepoint(name).execute()
      } finally {
        letNextIn()
      }
    }
  } else {
    if (options.isolationLevel !== undefined && !ISOLATION_LEVELS.includes(options.isolationLevel)) {
      throw new ValidationError([{ field: 'isolationLevel', messages: [`must be one of ${ISOLATION_LEVELS.join(', ')}`] }])
    }
    savepoints = { next: 0 }
    let builder = port.base.startTransaction()
    if (options.isolationLevel !== undefined) builder = builder.setIsolationLevel(options.isolationLevel)
    trx = await builder.execute().catch(rethrowTyped)
    const single = core.backend === 'pglite'
    if (single) core.adapter.controlledOpen++
    end = async (commit) => {
      try {
        if (!commit) {
          await trx.rollback().execute()
          return
        }
        try {
          await trx.commit().execute()
        } catch (err) {
          // Kysely keeps the connection when COMMIT fails: roll back to hand it back (a dead
          // connection is discarded by the pool adapter).
          await trx.rollback().execute().catch(() => undefined)
          const typed = translateError(err)
          if (typed instanceof ConnectionError && !typed.statementSent) {
            throw new ConnectionError('the connection was lost before COMMIT was sent: rolled back, nothing committed', {
              cause: typed,
              code: typed.code,
              statementSent: false,
            })
          }
          if (typed instanceof ConnectionError) {
            throw new ConnectionError(
              'the connection was lost during COMMIT: the outcome is unknown (the transaction may or ' +
                'may not have been committed); check before retrying',
              { cause: typed, code: typed.code, outcomeUnknown: true },
            )
          }
          throw typed
        }
      } finally {
        if (single) core.adapter.controlledOpen--
      }
    }
  }

  const executor = trx.withPlugin(guard)
  const db = port.bind(executor, trx, savepoints, guard)
  let open = true
  const finish = async (commit: boolean): Promise<void> => {
    if (!open) throw closedError(guard.ended ?? 'ended')
    open = false
    guard.ended = commit ? 'committed' : 'rolled back'
    try {
      await end(commit)
    } catch (err) {
      throw translateError(err)
    }
  }
  return {
    db,
    get isOpen() {
      return open
    },
    commit: () => finish(true),
    rollback: () => finish(false),
  }
}

/** Runs `fn` in a transaction (or savepoint), with optional retries on 40001 / 40P01. */
export async function runTransaction<T>(
  port: TransactionPort,
  fn: (tx: Db) => Promise<T>,
  options: TransactionOptions,
): Promise<T> {
  if (typeof fn !== 'function') {
    throw new ValidationError([{ field: 'fn', messages: ['must be a function'] }], 'transaction')
  }
  const retries = options.retries ?? 0
  if (!Number.isInteger(retries) || retries < 0 || retries > MAX_RETRIES) {
    throw new ValidationError([{ field: 'retries', messages: [`must be an integer from 0 to ${MAX_RETRIES}`] }], 'transaction')
  }
  const allowed = port.trx === undefined ? retries : 0
  for (let attempt = 0; ; attempt++) {
    const handle = await startTransaction(port, options)
    let result: T
    try {
      result = await inScope(port, () => fn(handle.db))
    } catch (err) {
      await handle.rollback().catch((rollbackErr: unknown) => {
        // Keep the error that caused the rollback; the rollback failure is only logged.
        port.core.logger?.warn({ err: rollbackErr }, 'automagik-db: rollback failed')
      })
      if (attempt < allowed && isRetryable(err)) {
        await backoff(attempt, options.retryDelay)
        continue
      }
      throw err
    }
    try {
      await handle.commit()
    } catch (err) {
      if (attempt < allowed && isRetryable(err)) {
        await backoff(attempt, options.retryDelay)
        continue
      }
      throw err
    }
    return result
  }
}

const isRetryable = (err: unknown): boolean => err instanceof DataLayerError && err.retryable

const backoff = (attempt: number, base = 10): Promise<void> => {
  const ms = Math.min(1000, base * 2 ** attempt) * (0.5 + Math.random() / 2)
  return new Promise((resolve) => setTimeout(resolve, ms))
}


/**
 * Runs a transaction callback in its async context: on PGlite marked as a transaction scope (to
 * detect self-deadlocks), and for a savepoint with its lock marked as held (to refuse a sibling
 * savepoint that would wait for it forever).
 */
function inScope<T>(port: TransactionPort, fn: () => Promise<T>): Promise<T> {
  let run = fn
  if (port.trx !== undefined) {
    const held = new Set(SavepointLock.held.getStore())
    held.add(port.lock)
    const inner = run
    run = () => SavepointLock.held.run(held, inner)
  }
  if (port.core.backend === 'pglite') {
    const inner = run
    run = () => transactionScope.run(port.core.adapter, inner)
  }
  return run()
}
