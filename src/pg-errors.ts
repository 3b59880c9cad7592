import {
  CheckViolationError,
  ConflictError,
  ConnectionError,
  DataLayerError,
  DeadlockError,
  ForeignKeyError,
  NotNullError,
  QueryError,
  SerializationError,
  StaleStatementError,
  TimeoutError,
  TransactionClosedError,
  type DataLayerErrorOptions,
} from './errors.js'

type ErrorClass = new (message: string, options: DataLayerErrorOptions) => DataLayerError

/** SQLSTATE → error class. Classes of SQLSTATE (first two characters) are matched below. */
const BY_SQLSTATE: Readonly<Record<string, ErrorClass>> = {
  '23505': ConflictError,
  '23503': ForeignKeyError,
  '23514': CheckViolationError,
  '23502': NotNullError,
  '40001': SerializationError,
  '40P01': DeadlockError,
  '57014': TimeoutError,
  '57P01': ConnectionError, // admin_shutdown (pg_terminate_backend)
  '57P02': ConnectionError, // crash_shutdown
  '57P03': ConnectionError, // cannot_connect_now (starting up, shutting down, recovering)
  '26000': StaleStatementError, // invalid_sql_statement_name: a prepared statement is gone
}

/** 0A000 is any unsupported feature; only this one means a cached statement went stale. */
const STALE_PLAN = 'cached plan must not change result type'

/** Node socket errors and node-postgres messages that mean the connection is gone. */
const NODE_CONNECTION_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
])
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
  'connect ECONNREFUSED',
]

interface PgLikeError {
  code?: unknown
  message?: unknown
  constraint?: unknown
  table?: unknown
  column?: unknown
  detail?: unknown
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

/**
 * Turns anything a driver threw into a typed {@link DataLayerError}, keeping the SQLSTATE in
 * `code`, the original error in `cause`, and the constraint, table and column names.
 * An error that is already a DataLayerError is returned as it is.
 *
 * @example
 * ```ts
 * try { await pool.query(text) } catch (err) { throw translateError(err) }
 * ```
 */
export function translateError(err: unknown): DataLayerError {
  if (err instanceof DataLayerError) return err
  const e = (typeof err === 'object' && err !== null ? err : {}) as PgLikeError
  const message = str(e.message) ?? String(err)
  const code = str(e.code)
  const options: DataLayerErrorOptions = { cause: err }
  if (code !== undefined) options.code = code
  const constraint = str(e.constraint)
  if (constraint !== undefined) options.constraint = constraint
  const table = str(e.table)
  if (table !== undefined) options.table = table
  const column = str(e.column)
  if (column !== undefined) options.column = column
  const detail = str(e.detail)
  if (detail !== undefined) options.detail = detail

  if (code !== undefined) {
    const Class = BY_SQLSTATE[code]
    if (Class !== undefined) return new Class(message, options)
    if (code === '0A000' && message.includes(STALE_PLAN)) return new StaleStatementError(message, options)
    // 08: connection exception; 28: invalid authorization (wrong password, no pg_hba entry).
    // 08P01 (protocol violation) is answered to a malformed statement, e.g. a wrong parameter
    // count: the connection is fine and a retry would fail the same way.
    if ((code.startsWith('08') && code !== '08P01') || code.startsWith('28')) return new ConnectionError(message, options)
    if (NODE_CONNECTION_CODES.has(code)) return new ConnectionError(message, options)
  }
  if (message.startsWith('Transaction is already')) {
    return new TransactionClosedError(
      `${message}: a query was issued after its transaction ended (a missing await?)`,
    )
  }
  if (CONNECTION_MESSAGES.some((m) => message.includes(m))) {
    return new ConnectionError(message, { ...options, code: code ?? 'CONNECTION' })
  }
  return new QueryError(message, { ...options, code: code ?? 'QUERY' })
}

/**
 * `promise.catch(rethrowTyped)`: rethrows anything as a typed {@link DataLayerError}.
 *
 * @example
 * ```ts
 * const rows = await query.execute().catch(rethrowTyped)
 * ```
 */
export function rethrowTyped(err: unknown): never {
  throw translateError(err)
}
