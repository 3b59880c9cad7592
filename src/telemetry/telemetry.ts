import type { Attributes, Histogram, MeterProvider, Span, Tracer, TracerProvider } from '@opentelemetry/api'
import type { Logger } from '../logger.js'
import { packageVersion } from '../cli/version.js'
import { ClientMetrics } from './metrics.js'
import type { BatchLabel, SpanOrigin, TelemetryOption, TelemetryTarget } from './options.js'
import { summarizeSql } from './sql-summary.js'
import { failureAttributes, statusMessage, TransactionSpan, withoutSecrets, type OtelApi } from './spans.js'

/** The instrumentation scope name of our tracer and meter. */
export const TELEMETRY_NAME = 'automagik-db'
/** SQL texts whose span name and attributes are kept ready (then the cache starts over). */
const MAX_CACHED_TEXTS = 2000

interface StatementInfo {
  name: string
  /** Span attributes at creation (query text included). */
  span: Attributes
  /** Duration metric attributes (no query text: low cardinality). */
  metric: Attributes
}

/**
 * Loads `@opentelemetry/api` for one Db, once, at connect: undefined when telemetry is off
 * (`telemetry: false`) or the package is not installed — then no statement does any telemetry work.
 *
 * @example
 * ```ts
 * const telemetry = await loadTelemetry(options.telemetry, target, options.logger)
 * ```
 */
export async function loadTelemetry(
  option: TelemetryOption | undefined,
  target: TelemetryTarget,
  logger?: Logger,
): Promise<Telemetry | undefined> {
  if (option === false) return undefined
  let api: OtelApi
  try {
    api = await import('@opentelemetry/api')
  } catch (err) {
    // Not installed: telemetry is simply off. Anything else is worth a warning.
    if ((err as { code?: unknown })?.code !== 'ERR_MODULE_NOT_FOUND') {
      logger?.warn({ err: { message: String((err as Error)?.message ?? err) } }, 'automagik-db: @opentelemetry/api could not be loaded; telemetry is off')
    }
    return undefined
  }
  const providers = typeof option === 'object' ? option : {}
  try {
    return new Telemetry(api, target, providers.tracerProvider as TracerProvider | undefined, providers.meterProvider as MeterProvider | undefined)
  } catch (err) {
    // A provider that throws must not keep the Db from opening.
    logger?.warn({ err: { message: String((err as Error)?.message ?? err) } }, 'automagik-db: telemetry could not start; it is off')
    return undefined
  }
}

/**
 * One Db's tracing and metrics, after the OpenTelemetry database client conventions: a CLIENT
 * span per statement (`SELECT agents`), one per transaction, savepoint and batch with the
 * statements inside as children, and the `db.client.*` metrics. Held by the Db's root; nothing
 * of it is module-global. Providers are looked up at each statement (a few property reads), so a
 * provider registered after `Db.connect` is used from then on, and with none registered
 * {@link Telemetry.recording} is false and a statement costs nothing more.
 *
 * @example
 * ```ts
 * if (telemetry.recording()) return telemetry.statement(sql, params, scope, () => conn.query(sql, params, true))
 * ```
 */
export class Telemetry {
  readonly #api: OtelApi
  readonly #target: TelemetryTarget
  readonly #fixedTracer: Tracer | undefined
  readonly #noopTracerProvider: TracerProvider
  readonly #scope: { name: string; version: string }
  readonly #metrics: ClientMetrics
  /** db.system.name, db.namespace, server.address, server.port. */
  readonly #base: Attributes
  readonly #texts = new Map<string, StatementInfo>()
  #provider: TracerProvider | undefined
  #providerTracer: Tracer | undefined
  /** Set by {@link recording} for the statement about to start. */
  #tracer: Tracer | undefined
  #histogram: Histogram | undefined

  constructor(api: OtelApi, target: TelemetryTarget, tracerProvider?: TracerProvider, meterProvider?: MeterProvider) {
    this.#api = api
    this.#target = target
    this.#scope = { name: TELEMETRY_NAME, version: packageVersion() }
    this.#fixedTracer = tracerProvider?.getTracer(this.#scope.name, this.#scope.version)
    this.#noopTracerProvider = new api.ProxyTracerProvider().getDelegate()
    const base: Attributes = { 'db.system.name': 'postgresql' }
    if (target.namespace) base['db.namespace'] = target.namespace
    if (target.server !== undefined) {
      base['server.address'] = target.server.address
      base['server.port'] = target.server.port
    }
    for (const [key, value] of Object.entries(base)) if (typeof value === 'string') base[key] = withoutSecrets(value, target.secrets)
    this.#base = Object.freeze(base)
    const poolName = target.server === undefined ? 'pglite' : `${base['server.address']}:${base['server.port']}/${base['db.namespace'] ?? ''}`
    this.#metrics = new ClientMetrics(api, meterProvider, this.#scope, poolName, () => target.poolStats())
  }

  /**
   * True when a tracer provider or a meter provider is registered (or was given): then
   * {@link statement} records. Call it right before {@link statement} / {@link transaction}.
   */
  recording(): boolean {
    this.#tracer = this.#currentTracer()
    this.#histogram = this.#metrics.histogram()
    return this.#tracer !== undefined || this.#histogram !== undefined
  }

  #currentTracer(): Tracer | undefined {
    if (this.#fixedTracer !== undefined) return this.#fixedTracer
    const api = this.#api
    const provider = api.trace.getTracerProvider()
    if (provider !== this.#provider) {
      this.#provider = provider
      this.#providerTracer = provider.getTracer(this.#scope.name, this.#scope.version)
    }
    if (provider instanceof api.ProxyTracerProvider && provider.getDelegate() === this.#noopTracerProvider) return undefined
    return this.#providerTracer
  }

  /**
   * Runs one statement under a CLIENT span (child of its transaction's span, or of the active
   * context) and records its duration. Only after {@link recording} returned true.
   */
  async statement<T>(sql: string, params: readonly unknown[], origin: SpanOrigin | undefined, run: () => Promise<T>): Promise<T> {
    const api = this.#api
    const tracer = this.#tracer
    const histogram = this.#histogram
    const info = this.#info(sql)
    const started = histogram === undefined ? 0 : performance.now()
    let span
    let inside = run
    if (tracer !== undefined) {
      const parent = origin?.telemetryParent()
      const active = api.context.active()
      const context = parent === undefined ? active : api.trace.setSpan(active, parent.span as Span)
      // A copy: samplers of SDK 1.x merge their attributes into the object they are given.
      span = tracer.startSpan(info.name, { kind: api.SpanKind.CLIENT, attributes: { ...info.span } }, context)
      // A driver instrumentation underneath (e.g. for pg) nests its spans under ours.
      const own = api.trace.setSpan(context, span)
      inside = () => api.context.with(own, run)
    }
    try {
      const result = await inside()
      span?.end()
      histogram?.record((performance.now() - started) / 1000, info.metric)
      return result
    } catch (err) {
      const failure = failureAttributes(err)
      if (span !== undefined) {
        span.setAttributes(failure)
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: statusMessage(err, params, this.#target.secrets) })
        span.end()
      }
      histogram?.record((performance.now() - started) / 1000, { ...info.metric, ...failure })
      throw err
    }
  }

  /**
   * Starts the span of a transaction (`transaction`), a savepoint (`savepoint`) or a batch
   * (`BATCH INSERT audit`), or returns undefined when no tracer provider is registered.
   */
  transaction(batch: BatchLabel | undefined, savepoint: boolean, origin: SpanOrigin): TransactionSpan | undefined {
    this.recording()
    const tracer = this.#tracer
    if (tracer === undefined) return undefined
    const api = this.#api
    let name = savepoint ? 'savepoint' : 'transaction'
    let attributes: Attributes = { ...this.#base }
    if (batch !== undefined && batch.size === 1) {
      // One parameter row is one operation, not a batch (the conventions).
      const info = this.#info(batch.sql)
      name = info.name
      attributes = { ...info.span }
    } else if (batch !== undefined) {
      const info = this.#info(batch.sql)
      name = `BATCH ${info.name}`
      attributes = { ...info.span, 'db.query.summary': name }
      const operation = info.span['db.operation.name']
      if (operation !== undefined) attributes['db.operation.name'] = `BATCH ${String(operation)}`
      attributes['db.operation.batch.size'] = batch.size
    }
    const parent = origin.telemetryParent()
    const active = api.context.active()
    const context = parent === undefined ? active : api.trace.setSpan(active, parent.span as Span)
    const span = tracer.startSpan(name, { kind: api.SpanKind.CLIENT, attributes }, context)
    return new TransactionSpan(api, span, this.#target.secrets)
  }

  /** Span name and attributes of one SQL text, worked out once per text. */
  #info(sql: string): StatementInfo {
    let info = this.#texts.get(sql)
    if (info !== undefined) return info
    const { summary, operation, collection } = summarizeSql(sql)
    const secrets = this.#target.secrets
    const metric: Attributes = { ...this.#base }
    if (operation !== undefined) metric['db.operation.name'] = operation
    if (collection !== undefined) metric['db.collection.name'] = withoutSecrets(collection, secrets)
    const safeSummary = withoutSecrets(summary, secrets)
    if (safeSummary !== '') metric['db.query.summary'] = safeSummary
    const span: Attributes = { ...metric, 'db.query.text': withoutSecrets(sql, secrets) }
    info = { name: safeSummary || 'postgresql', span: Object.freeze(span), metric: Object.freeze(metric) }
    if (this.#texts.size >= MAX_CACHED_TEXTS) this.#texts.clear()
    this.#texts.set(sql, info)
    return info
  }

  /** Stops the connection-count observer (the Db closed). */
  close(): void {
    this.#metrics.close()
  }
}
