import { ConnectionError, DataLayerError, MisuseError, ValidationError } from '../errors.js'
import { abortedError } from './pg-connection.js'
import { Binding } from './binding.js'
import { Scope } from './scope.js'
import type { BatchLabel } from '../telemetry/options.js'
import type { TransactionSpan } from '../telemetry/spans.js'

/** PostgreSQL's isolation levels (`snapshot` is not one: it is refused before any SQL). */
export const ISOLATION_LEVELS = ['read uncommitted', 'read committed', 'repeatable read', 'serializable'] as const
export type IsolationLevel = (typeof ISOLATION_LEVELS)[number]
const MAX_RETRIES = 10

/** Options of `Db.transaction`. */
export interface TransactionOptions {
  /** PostgreSQL isolation level; default `read committed`. Ignored for a nested savepoint. */
  isolationLevel?: IsolationLevel
  /**
   * Run the whole function again, up to this many times, when the transaction fails with a
   * serialization failure (40001), a deadlock (40P01) or a stale prepared statement, also when
   * the callback caught that error itself (TransactionAbortedError). Default 0; at most 10. Only
   * a top-level transaction retries; unique violations, timeouts and your own errors never do.
   */
  retries?: number
  /** First backoff in ms before a retry; doubles each time with jitter, capped at 1 s. Default 10. */
  retryDelay?: number
}

/** A transaction or savepoint that its opener ends. */
export interface OpenTransaction {
  readonly scope: Scope
  readonly isOpen: boolean
  commit(): Promise<void>
  rollback(): Promise<void>
}

function checkIsolation(level: unknown): void {
  if (level !== undefined && !ISOLATION_LEVELS.includes(level as IsolationLevel)) {
    throw new ValidationError(
      [{ field: 'isolationLevel', messages: [`must be one of ${ISOLATION_LEVELS.join(', ')}`] }],
      'transaction',
    )
  }
}

/**
 * Opens a transaction on `scope` — a new one from the root or a pinned connection, a SAVEPOINT
 * inside a transaction — and returns the scope bound to it with its commit and rollback.
 */
export async function openTransaction(
  scope: Scope,
  options: { isolationLevel?: IsolationLevel } = {},
  manual = false,
  batch?: BatchLabel,
): Promise<OpenTransaction> {
  checkIsolation(options.isolationLevel)
  const outer = scope.binding
  outer?.assertOpen()
  // Traced: one span from before BEGIN (and the wait for a connection) to COMMIT or ROLLBACK.
  const span = scope.root.telemetry?.transaction(batch, outer?.inTransaction ?? false, scope)
  if (span === undefined) return open(scope, options, manual, undefined)
  try {
    return await open(scope, options, manual, span)
  } catch (err) {
    span.end(err)
    throw err
  }
}

async function open(
  scope: Scope,
  options: { isolationLevel?: IsolationLevel },
  manual: boolean,
  span: TransactionSpan | undefined,
): Promise<OpenTransaction> {
  const outer = scope.binding
  if (outer !== undefined && outer.inTransaction) return openSavepoint(scope, outer, manual, span)

  const root = scope.root
  const conn = outer?.conn ?? (await root.acquireConnection())
  const binding = new Binding('transaction', conn, outer)
  binding.span = span
  const giveBack = async () => {
    if (outer === undefined) await root.runner.release(conn, 'idle')
  }
  try {
    const level = options.isolationLevel
    await conn.control(level === undefined ? 'BEGIN' : `BEGIN ISOLATION LEVEL ${level.toUpperCase()}`)
  } catch (err) {
    await giveBack()
    throw err
  }
  return handle(new Scope(root, binding, scope.schema), binding, async (commit) => {
    try {
      if (!commit) await conn.rollback()
      else await commitTop(conn)
    } finally {
      await giveBack()
      // Read-your-writes: a transaction on the primary may have written (even when COMMIT failed: its outcome may be unknown).
      if (commit && scope.routing !== 'read') root.router?.noteWrite()
    }
  })
}

async function commitTop(conn: Binding['conn']): Promise<void> {
  try {
    await conn.commit()
  } catch (err) {
    if (!(err instanceof ConnectionError)) throw err
    if (!err.statementSent) {
      throw new ConnectionError('the connection was lost before COMMIT was sent: rolled back, nothing committed', {
        cause: err,
        code: err.code,
        statementSent: false,
      })
    }
    throw new ConnectionError(
      'the connection was lost during COMMIT: the outcome is unknown (the transaction may or may ' +
        'not have been committed); check before retrying',
      { cause: err, code: err.code, outcomeUnknown: true },
    )
  }
}

async function openSavepoint(scope: Scope, outer: Binding, manual: boolean, span: TransactionSpan | undefined): Promise<OpenTransaction> {
  if (outer.hasOpenManualSavepoint) {
    // Its opener ends it, maybe never: waiting for it could hang forever.
    throw new MisuseError(
      'a savepoint opened with startTransaction() on this transaction is still open: commit or roll ' +
        'it back before opening another one',
    )
  }
  const current = scope.root.context.getStore()
  if (current !== undefined && current !== outer && current.open && outer.encloses(current)) {
    // Waiting would never end: the open savepoint is the caller's own.
    throw new MisuseError(
      'a savepoint of this transaction is open around this call: run nested work on the inner Db ' +
        '(the `tx` its callback received), not on the outer one',
    )
  }
  const letNextIn = await outer.enterSavepoint()
  const conn = outer.conn
  const name = outer.nextSavepointName()
  const binding = new Binding('savepoint', conn, outer)
  binding.span = span
  // Registered before SAVEPOINT is sent: from now on, statements of the outer transaction issued
  // from outside this savepoint wait for it to end instead of landing inside it.
  outer.openSavepoint(binding, letNextIn, manual)
  try {
    outer.assertOpen()
    await conn.control(`SAVEPOINT ${name}`)
  } catch (err) {
    binding.end('rolled back')
    binding.finished()
    throw err
  }
  const rollbackTo = () => conn.rollbackTo(name)
  return handle(new Scope(scope.root, binding, scope.schema), binding, async (commit) => {
    if (!commit) return rollbackTo()
    if (conn.abortCause === undefined && conn.txStatus !== 'E') {
      try {
        await conn.control(`RELEASE SAVEPOINT ${name}`)
        return
      } catch (err) {
        if (!(err instanceof DataLayerError) || (err.code !== '25P02' && err.code !== 'TRANSACTION_ABORTED')) throw err
      }
    }
    // A statement inside failed and its error was caught: undo the savepoint, keep the outer
    // transaction going, and say so.
    const cause = conn.abortCause
    await rollbackTo()
    throw abortedError('the savepoint', cause)
  })
}

function handle(scope: Scope, binding: Binding, end: (commit: boolean) => Promise<void>): OpenTransaction {
  let open = true
  const finish = async (commit: boolean): Promise<void> => {
    if (!open) binding.assertOpen()
    open = false
    // A handle that outlived its transaction, or whose connection was lent again, sends nothing:
    // its statement would land in whatever runs on that connection now.
    let stale: unknown
    try {
      binding.assertOpen()
    } catch (err) {
      stale = err
    }
    const savepointStillOpen = binding.hasOpenSavepoint
    binding.end(commit ? 'committed' : 'rolled back')
    let failure: unknown
    try {
      if (stale !== undefined) throw stale
      if (!savepointStillOpen || !commit) return await end(commit)
      // Asked to commit while a savepoint inside still runs (a missing await): nothing of it can
      // be trusted to be complete. Roll everything back and say so.
      await end(false)
      throw new MisuseError(
        `${binding.kind === 'savepoint' ? 'a savepoint' : 'the transaction'} was to commit while a ` +
          'savepoint inside it was still open (a missing await on tx.transaction()?): everything was rolled back',
      )
    } catch (err) {
      failure = err
      throw err
    } finally {
      binding.finished()
      binding.span?.end(failure)
    }
  }
  return {
    scope,
    get isOpen() {
      return open
    },
    commit: () => finish(true),
    rollback: () => finish(false),
  }
}

/** Runs `fn` in a transaction (or savepoint) of `scope`, with optional retries. */
export async function runTransaction<T>(
  scope: Scope,
  fn: (scope: Scope) => Promise<T>,
  options: TransactionOptions,
  batch?: BatchLabel,
): Promise<T> {
  const retries = options.retries ?? 0
  if (!Number.isInteger(retries) || retries < 0 || retries > MAX_RETRIES) {
    throw new ValidationError([{ field: 'retries', messages: [`must be an integer from 0 to ${MAX_RETRIES}`] }], 'transaction')
  }
  const allowed = scope.binding?.inTransaction ? 0 : retries
  for (let attempt = 0; ; attempt++) {
    const tx = await openTransaction(scope, options, false, batch)
    let result: T
    try {
      result = await tx.scope.runInside(() => fn(tx.scope))
    } catch (err) {
      tx.scope.binding?.span?.fail(err)
      await tx.rollback().catch((rollbackErr: unknown) => {
        // Keep the error that caused the rollback; the rollback failure is only logged.
        scope.root.runner.warn({ err: scope.root.runner.describe(rollbackErr) }, 'automagik-db: rollback failed')
      })
      if (attempt < allowed && isRetryable(err)) {
        await backoff(attempt, options.retryDelay)
        continue
      }
      throw err
    }
    try {
      await tx.commit()
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
