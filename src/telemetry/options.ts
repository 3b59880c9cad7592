/**
 * The `telemetry` option of `Db.connect`. Left out (or `true`): when `@opentelemetry/api` is
 * installed, spans and metrics go to the global tracer and meter providers (what an OpenTelemetry
 * SDK registers); when it is not installed, nothing is loaded and nothing is done. `false`: off.
 * An object names the providers to use instead of the global ones.
 *
 * @example
 * ```ts
 * const db = await Db.connect({ url, telemetry: false }) // no spans, no metrics
 * const traced = await Db.connect({ url, telemetry: { tracerProvider, meterProvider } })
 * ```
 */
export type TelemetryOption = boolean | TelemetryProviders

/** Providers to use instead of the global ones (e.g. an SDK's, not registered globally). */
export interface TelemetryProviders {
  /** An OpenTelemetry `TracerProvider` (`getTracer(name, version)`). */
  tracerProvider?: { getTracer(name: string, version?: string): unknown }
  /** An OpenTelemetry `MeterProvider` (`getMeter(name, version)`). */
  meterProvider?: { getMeter(name: string, version?: string): unknown }
}

/** Where a statement or transaction is issued from: says which transaction span is its parent. */
export interface SpanOrigin {
  /**
   * The span of the transaction to parent on, or undefined to parent on the active context
   * (outside any transaction, or inside the transaction's own callback, where it is active).
   */
  telemetryParent(): { readonly span: unknown } | undefined
}

/** What a batch tells its transaction span: the statement and how many parameter rows it runs. */
export interface BatchLabel {
  sql: string
  size: number
}

/** What telemetry knows of the database a Db opened: never the password or the connection string. */
export interface TelemetryTarget {
  /** `db.namespace`: the database name on a server, `pglite` for the embedded database. */
  namespace: string | undefined
  /** `server.address` / `server.port`: the host and port of the URL (server only). */
  server: { address: string; port: number } | undefined
  /** Strings that must never appear in an attribute (the password). */
  secrets: readonly string[]
  /** Pool counters, for `db.client.connection.count`. */
  poolStats(): { total: number; idle: number }
}

/**
 * Checks the `telemetry` option's shape; returns a message when it is wrong.
 *
 * @example
 * ```ts
 * telemetryOptionProblem({ tracerProvider: 1 }) // 'telemetry.tracerProvider must have getTracer()'
 * ```
 */
export function telemetryOptionProblem(value: unknown): string | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined
  if (typeof value !== 'object' || value === null) return 'telemetry must be true, false or { tracerProvider, meterProvider }'
  const { tracerProvider, meterProvider } = value as Record<string, { getTracer?: unknown; getMeter?: unknown } | undefined>
  if (tracerProvider !== undefined && typeof tracerProvider?.getTracer !== 'function') return 'telemetry.tracerProvider must have getTracer()'
  if (meterProvider !== undefined && typeof meterProvider?.getMeter !== 'function') return 'telemetry.meterProvider must have getMeter()'
  return undefined
}
