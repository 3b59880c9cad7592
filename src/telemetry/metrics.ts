import type { Histogram, MeterProvider, ObservableResult, ObservableUpDownCounter } from '@opentelemetry/api'
import type { OtelApi } from './spans.js'

/** `db.client.operation.duration` buckets (seconds), as the conventions advise. */
const DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]

/**
 * The metrics of one Db: `db.client.operation.duration` (a histogram in seconds, one value per
 * statement) and `db.client.connection.count` (observed from the pool: `idle` and `used`, attribute
 * `db.client.connection.state`). With the global meter provider it follows what is registered
 * now: a provider registered after `Db.connect` is picked up at the next statement; with no
 * provider (the API's no-op one) {@link ClientMetrics.histogram} is undefined and nothing is done.
 *
 * @example
 * ```ts
 * const metrics = new ClientMetrics(api, undefined, 'automagik-db', '0.1.0', 'pglite', () => pool.stats)
 * metrics.histogram()?.record(0.002, { 'db.system.name': 'postgresql' })
 * ```
 */
export class ClientMetrics {
  readonly #api: OtelApi
  readonly #fixed: MeterProvider | undefined
  readonly #scope: { name: string; version: string }
  readonly #poolName: string
  readonly #poolStats: () => { total: number; idle: number }
  /** What the API's no-op meter hands out: a histogram identical to it means "no provider". */
  readonly #noop: Histogram
  #provider: MeterProvider | undefined
  #histogram: Histogram | undefined
  #connections: ObservableUpDownCounter | undefined
  #closed = false
  readonly #observe = (result: ObservableResult): void => {
    const { total, idle } = this.#poolStats()
    const pool = this.#poolName
    result.observe(idle, { 'db.client.connection.state': 'idle', 'db.client.connection.pool.name': pool })
    result.observe(Math.max(0, total - idle), { 'db.client.connection.state': 'used', 'db.client.connection.pool.name': pool })
  }

  constructor(
    api: OtelApi,
    meterProvider: MeterProvider | undefined,
    scope: { name: string; version: string },
    poolName: string,
    poolStats: () => { total: number; idle: number },
  ) {
    this.#api = api
    this.#fixed = meterProvider
    this.#scope = scope
    this.#poolName = poolName
    this.#poolStats = poolStats
    this.#noop = api.createNoopMeter().createHistogram('noop')
    this.histogram()
  }

  /** The duration histogram of the meter provider in force, or undefined when none is registered. */
  histogram(): Histogram | undefined {
    const provider = this.#fixed ?? this.#api.metrics.getMeterProvider()
    if (provider !== this.#provider && !this.#closed) this.#switchTo(provider)
    return this.#histogram
  }

  #switchTo(provider: MeterProvider): void {
    this.#detach()
    this.#provider = provider
    const meter = provider.getMeter(this.#scope.name, this.#scope.version)
    const histogram = meter.createHistogram('db.client.operation.duration', {
      description: 'Duration of database client operations.',
      unit: 's',
      advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] },
    })
    if (histogram === this.#noop) return
    this.#histogram = histogram
    this.#connections = meter.createObservableUpDownCounter('db.client.connection.count', {
      description: 'The number of connections that are currently in state described by the state attribute.',
      unit: '{connection}',
    })
    this.#connections.addCallback(this.#observe)
  }

  #detach(): void {
    this.#connections?.removeCallback(this.#observe)
    this.#connections = undefined
    this.#histogram = undefined
  }

  /** Stops observing the pool (the Db closed). */
  close(): void {
    this.#closed = true
    this.#detach()
  }
}
