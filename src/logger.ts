/**
 * The logger automagik-db writes to: any pino-compatible object (pino, bunyan-like, or a few
 * functions). Log records carry SQL text and timings, never parameter values or passwords.
 *
 * @example
 * ```ts
 * import pino from 'pino'
 * const db = await Db.connect({ logger: pino() })
 * ```
 */
export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}
