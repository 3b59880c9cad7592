/**
 * `npm run bench`: automagik-db side by side with raw pg (unnamed and named statements), Kysely
 * and Drizzle, on a PostgreSQL server and on embedded PGlite. See scripts/bench/ and issue 4;
 * workloads 12–15 (search, vector recall, context.load) are issue 10's.
 *
 *   npm run bench -- --scale small                 # a few seconds per backend (CI smoke test)
 *   npm run bench -- --scale full --backend server # the README numbers
 *   npm run bench -- --only 1,6,9 --variants
 *   npm run bench -- --scale full --only 12,13,14,15  # the recall workloads
 */
import { performance } from 'node:perf_hooks'
import { openBackend } from './bench/backends.js'
import { parseOptions } from './bench/options.js'
import { evaluateTargets, hostMeta, packageVersions, textTable, textTargets, writeReports, type RunMeta } from './bench/report.js'
import { interrupt, runWorkload } from './bench/runner.js'
import type { WorkloadResult } from './bench/types.js'
import { workloads } from './bench/workloads/index.js'

const options = parseOptions(process.argv.slice(2))
const log = (line: string) => console.log(line)

/** Cleanups of the backend that is open (the server database is dropped even on Ctrl-C). */
const cleanups: (() => Promise<void>)[] = []
let cleaning: Promise<void> | undefined
/** Runs the registered cleanups once; a second caller (Ctrl-C during cleanup) waits for the same run. */
const runCleanups = (): Promise<void> =>
  (cleaning ??= (async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch((err) => console.error(`bench: cleanup failed: ${err}`))
  })().finally(() => {
    cleaning = undefined
  }))
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\nbench: ${signal}, cleaning up…`)
    interrupt.requested = true
    void runCleanups().finally(() => process.exit(130))
  })
}

let failed = false
const written: string[] = []
const started = performance.now()
const versions = await packageVersions()

for (const backend of options.backends) {
  const t0 = performance.now()
  const host = await hostMeta()
  log(`\n=== ${backend} · scale ${options.scale.name} · load ${host.loadAverage.join(' ')} ===`)
  try {
    const open = await openBackend(backend, options, log, (fn) => cleanups.push(fn))
    const results: WorkloadResult[] = []
    for await (const workload of workloads(open.ctx, options.only, log)) {
      const w0 = performance.now()
      const out = await runWorkload(workload, options.scale, log)
      const result = { workload, results: out }
      results.push(result)
      if (out.some((r) => r.error)) failed = true
      log(`${textTable(result)}\n  (${((performance.now() - w0) / 1000).toFixed(1)} s)\n`)
    }
    const targets = evaluateTargets(results)
    log(`Targets (issues 4 and 10) on ${backend}${backend === 'pglite' ? ' (the issues set them for the server)' : ''}:\n${textTargets(targets)}`)
    const meta: RunMeta = {
      backend,
      scale: options.scale,
      date: new Date().toISOString(),
      database: open.version,
      host,
      versions,
      notes: [
        ...open.ctx.notes,
        'Numbers are medians of interleaved rounds; on a shared or busy machine compare ratios, not absolute times.',
      ],
      durationSec: (performance.now() - t0) / 1000,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    }
    written.push(...(await writeReports(options.outDir, meta, results, targets)))
  } catch (err) {
    failed = true
    if (interrupt.requested) break
    console.error(`bench: ${backend} failed:`, err)
  } finally {
    await runCleanups()
  }
}

if (interrupt.requested) {
  await runCleanups()
  process.exit(130)
}
log(`\nwrote ${written.join(', ') || 'nothing'} in ${((performance.now() - started) / 1000).toFixed(0)} s`)
// Pools and PGlite are closed; exit explicitly so a stray timer can't keep a CI job waiting.
process.exit(failed ? 1 : 0)
