import type { LogEvent } from 'kysely'
import type { Logger } from './logger.js'

/**
 * Kysely's log hook: each query's SQL text and duration at debug level, failures at warn level.
 * Parameter values are never logged, not even inside an error message that quotes them.
 *
 * @example
 * ```ts
 * new Kysely({ dialect, log: (event) => logQuery(logger, event) })
 * ```
 */
export function logQuery(logger: Logger, event: LogEvent): void {
  const sql = event.query.sql
  const ms = Math.round(event.queryDurationMillis * 1000) / 1000
  if (event.level === 'error') {
    const err = event.error instanceof Error ? event.error : new Error(String(event.error))
    const code = (err as { code?: unknown }).code
    const message = withoutParameters(err.message, event.query.parameters)
    logger.warn({ sql, ms, code, message }, 'automagik-db: query failed')
  } else {
    logger.debug({ sql, ms }, 'automagik-db: query')
  }
}

/**
 * PostgreSQL quotes the offending input in some messages (`invalid input syntax for type
 * integer: "…"`): remove every parameter value from a message before it is logged (or put on a
 * span).
 *
 * @example
 * ```ts
 * withoutParameters('invalid input syntax for type integer: "abc"', ['abc']) // '… "[parameter]"'
 * ```
 */
export function withoutParameters(message: string, parameters: readonly unknown[]): string {
  const values = parameters
    .map(parameterText)
    .filter((v): v is string => v !== undefined && v !== '')
    .sort((a, b) => b.length - a.length)
  for (const value of values) message = message.split(value).join('[parameter]')
  return message
}

function parameterText(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value)
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString()
  if (value instanceof Uint8Array) return undefined
  try {
    return JSON.stringify(value)
  } catch {
    return undefined
  }
}
