import { context, metrics, trace, type Attributes } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
  type MetricData,
} from '@opentelemetry/sdk-metrics'

/** A tracer provider with an in-memory exporter, registered globally with an async-hooks context manager. */
export function registerTracing(): { exporter: InMemorySpanExporter; provider: BasicTracerProvider } {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  trace.setGlobalTracerProvider(provider)
  return { exporter, provider }
}

/** A meter provider whose metrics are read on demand (`collect()`), registered globally. */
export function registerMetrics(): { collect: () => Promise<MetricData[]>; provider: MeterProvider } {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const provider = new MeterProvider({ readers: [reader] })
  metrics.setGlobalMeterProvider(provider)
  const collect = async () => {
    exporter.reset()
    await reader.forceFlush()
    return exporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics))
  }
  return { collect, provider }
}

/** The data points of one metric. */
export function points(all: MetricData[], name: string): DataPoint<unknown>[] {
  return all.filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as DataPoint<unknown>[])
}

/** Every string a span carries: name, attribute values, status message, event names and attributes. */
export function spanStrings(span: ReadableSpan): string[] {
  const values = (attrs: Attributes | undefined) => Object.values(attrs ?? {}).flatMap((v) => (Array.isArray(v) ? v : [v])).map(String)
  return [
    span.name,
    ...values(span.attributes),
    span.status.message ?? '',
    ...span.events.flatMap((e) => [e.name, ...values(e.attributes)]),
  ]
}

/** The parent span id of a finished span (SDK 2.x). */
export const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId
