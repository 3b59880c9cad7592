/**
 * The workloads of issues 4 and 10, in the order they run. A generator, so that seeding steps (growing
 * `messages` for workload 6, filling the big session for H) happen just before the workload
 * that needs them.
 */
import { CALLERS, throughputContenders } from './throughput.js'
import { bulkContenders, bulkInputs } from './bulk.js'
import { hydrateContenders, listImpls } from './lists.js'
import { SINGLE_ROW_TITLES, singleRowImpls } from './single-row.js'
import { transactionContenders } from './transaction.js'
import { standard, type Impls } from './common.js'
import { loadRecall, recallWorkloads } from './recall.js'
import type { RecallEnv } from './recall-search.js'
import { bigSessionSql, growMessagesSql } from '../seed.js'
import { WORKLOAD_ORDER, type WorkloadGroup } from '../options.js'
import type { BenchContext, Contender, Workload } from '../types.js'

const short = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n))

export async function* workloads(ctx: BenchContext, only: ReadonlySet<WorkloadGroup>, log: (s: string) => void): AsyncGenerator<Workload> {
  const single = singleRowImpls(ctx)
  const lists = listImpls(ctx)
  let recall: RecallEnv | undefined
  for (const group of WORKLOAD_ORDER) {
    if (!only.has(group)) continue
    switch (group) {
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '8':
        yield {
          id: group,
          group,
          title: SINGLE_ROW_TITLES[group],
          baseline: 'pg',
          mode: 'sequential',
          contenders: group === '1' ? withUntraced(ctx, single['1']) : standard(ctx, single[group]),
        }
        break
      case '7':
        yield {
          id: '7',
          group,
          title: 'memories.list({ agentId, userId }) → 100 rows',
          baseline: 'pg',
          mode: 'sequential',
          contenders: standard(ctx, lists['7']),
        }
        break
      case '6':
        for (const total of ctx.scale.messageSteps) {
          const grow = growMessagesSql(ctx.seed, total)
          if (grow.length) {
            const t0 = Date.now()
            for (const statement of grow) await ctx.execAll(statement)
            log(`  seeded messages up to ${short(total)} rows in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
          }
          yield {
            id: `6@${short(total)}`,
            group,
            title: `messages.listBySession(session, { limit: 50, order: 'desc' }), ${short(total)} messages in the table`,
            baseline: 'pg',
            mode: 'sequential',
            contenders: standard(ctx, lists['6']),
            notes: ['automagik-db fetches 51 rows (the 51st tells whether a next page exists) and returns a cursor.'],
          }
        }
        break
      case 'H': {
        const rows = ctx.scale.hydrateRows
        for (const statement of bigSessionSql(ctx.seed, rows)) await ctx.execAll(statement)
        yield {
          id: 'H',
          group,
          title: `hydration: ${short(rows)} messages of one session → rows / entities`,
          baseline: 'pg',
          mode: 'sequential',
          rowsPerOp: rows,
          contenders: hydrateContenders(ctx, rows),
          notes: [
            'pg+toMessage vs pg is the issue\'s hydration target (≤ 1.20).',
            'automagik-db caps a page at 1000 rows, so its own API reads 10k rows in 10 keyset pages.',
          ],
        }
        break
      }
      case '10':
        yield {
          id: '10',
          group,
          title: 'transaction: session + 3 messages + memory upsert (BEGIN … COMMIT, 7 round trips)',
          baseline: 'pg',
          mode: 'sequential',
          contenders: transactionContenders(ctx),
        }
        break
      case '11':
        yield {
          id: '11',
          group,
          title: `throughput: ${CALLERS} concurrent callers, pool of ${ctx.backend === 'server' ? 10 : 1}, mixing workloads 1–8`,
          baseline: 'pg',
          mode: 'concurrent',
          concurrency: CALLERS,
          contenders: throughputContenders(ctx, [single['1'], single['2'], single['3'], single['4'], single['5'], lists['6'], lists['7'], single['8']]),
          notes: ['ratio = baseline ops/s ÷ contender ops/s (>1 is slower); latencies include waiting for a connection.'],
        }
        break
      case '9':
        for (const n of ctx.scale.bulkSizes) {
          yield {
            id: `9@${short(n)}`,
            group,
            title: `messages.createMany of ${short(n)} rows`,
            baseline: ctx.copyAvailable ? 'pg-copy' : 'pg',
            mode: 'bulk',
            rowsPerOp: n,
            ...(n >= 100_000 ? { rounds: 2 } : {}),
            contenders: bulkContenders(ctx, bulkInputs(ctx, n)),
            notes: [
              ctx.copyAvailable
                ? 'baseline: raw COPY FROM STDIN (the issue\'s target is ≥ 0.5× COPY and ≥ 150k rows/s).'
                : 'COPY FROM STDIN is not available on this backend: the baseline is raw pg unnest.',
              'raw and query-builder contenders return a row count; createMany returns every row as a Message.',
            ],
          }
        }
        break
      case '12':
      case '13':
      case '14':
      case '15':
        recall ??= await loadRecall(ctx, log)
        yield* recallWorkloads(ctx, group, recall, log)
        break
    }
  }
}

/**
 * Workload 1 also runs two fresh automagik-db Dbs, telemetry on (the default) and `telemetry:
 * false` (server only): the cost of the OpenTelemetry hooks with the API installed and no SDK
 * registered, measured in the same run.
 */
function withUntraced(ctx: BenchContext, impls: Impls): Contender[] {
  const contenders = standard(ctx, impls)
  const at = contenders.findIndex((c) => c.id === ctx.amdb.id) + 1
  contenders.splice(at, 0, ...(ctx.untraced ?? []).map((a) => ({ id: a.id, label: a.label, run: impls.amdb(a.db) })))
  return contenders
}
