/** The table on stdout, bench-results/bench-<backend>.md and .json, and the issue's targets. */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { BackendName, ScaleConfig } from './options.js'
import { summarize, type Summary } from './stats.js'
import type { Target, WorkloadResult } from './types.js'

export type { Target }

export interface RunMeta {
  backend: BackendName
  scale: ScaleConfig
  date: string
  database: string
  host: { cpu: string; cores: number; memoryGb: number; os: string; node: string; loadAverage: number[] }
  versions: Record<string, string>
  notes: string[]
  durationSec?: number
  peakRssMb?: number
}

export async function hostMeta(): Promise<RunMeta['host']> {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  }
}

export async function packageVersions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const name of ['kysely', 'pg', 'drizzle-orm', '@electric-sql/pglite', 'class-validator']) {
    try {
      out[name] = JSON.parse(await readFile(path.join('node_modules', name, 'package.json'), 'utf8')).version
    } catch {
      out[name] = '?'
    }
  }
  return out
}

const fmt = (n: number | null | undefined, digits = 0): string =>
  n === null || n === undefined || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const fmtUs = (n: number) => fmt(n, n < 1000 ? 1 : 0)

const HEADER = ['contender', 'median µs', 'p99 µs', 'ops/s', 'rows/s', 'ratio', 'peak RSS MB', 'ops'] as const

function rowCells(s: Summary): string[] {
  if (s.error) return [s.id, 'FAILED', s.error.slice(0, 80), '', '', '', '', '']
  return [s.id, fmtUs(s.medianUs), fmtUs(s.p99Us), fmt(s.opsPerSec), fmt(s.rowsPerSec), s.ratio === null ? '–' : s.ratio.toFixed(2), fmt(s.peakRssMb), fmt(s.ops)]
}

/** Fixed-width text table of one workload. */
export function textTable(result: WorkloadResult): string {
  const { workload } = result
  const summaries = summarize(workload, result.results)
  const rows = [HEADER as readonly string[], ...summaries.map(rowCells)]
  const widths = HEADER.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  const line = (r: readonly string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')
  return [`[${workload.id}] ${workload.title}  (baseline: ${workload.baseline})`, ...rows.map((r) => `  ${line(r)}`)].join('\n')
}

export function evaluateTargets(results: readonly WorkloadResult[]): Target[] {
  const targets: Target[] = []
  const get = (w: WorkloadResult, id: string) => summarize(w.workload, w.results).find((s) => s.id === id && !s.error)
  const ratio = (x: number | null | undefined) => (x == null ? '–' : `${x.toFixed(2)}×`)

  for (const w of results) {
    const g = w.workload.group
    const amdb = get(w, 'automagik-db')
    if (w.workload.targets) targets.push(...w.workload.targets((id) => get(w, id)))
    if (['1', '2', '3', '4', '5', '8'].includes(g)) {
      const drizzle = get(w, 'drizzle')
      const vsPg = amdb?.ratio ?? null
      const vsDrizzle = amdb && drizzle ? amdb.medianUs / drizzle.medianUs : null
      targets.push({
        name: `${w.workload.id}: ≤ 1.10× raw pg and ≤ Drizzle prepared`,
        met: vsPg !== null && vsDrizzle !== null ? vsPg <= 1.1 && vsDrizzle <= 1.0 : null,
        detail: `${ratio(vsPg)} raw pg, ${ratio(vsDrizzle)} Drizzle`,
      })
    } else if (g === '6' || g === '7') {
      const vsPg = amdb?.ratio ?? null
      targets.push({ name: `${w.workload.id}: ≤ 1.20× raw pg`, met: vsPg === null ? null : vsPg <= 1.2, detail: `${ratio(vsPg)} raw pg` })
    } else if (g === '9') {
      const copy = get(w, 'pg-copy')
      const rowsPerSec = amdb?.rowsPerSec ?? null
      const vsCopy = copy && amdb ? amdb.rowsPerSec! / copy.rowsPerSec! : null
      targets.push({
        name: `${w.workload.id}: ≥ 150k rows/s`,
        met: rowsPerSec === null ? null : rowsPerSec >= 150_000,
        detail: `${fmt(rowsPerSec)} rows/s (raw COPY on the same run: ${copy ? `${fmt(copy.rowsPerSec)} rows/s` : 'not measured'})`,
      })
      targets.push({
        name: `${w.workload.id}: ≥ 0.5× raw COPY`,
        met: vsCopy === null ? null : vsCopy >= 0.5,
        detail: vsCopy === null ? 'COPY not measured on this backend' : `${vsCopy.toFixed(2)}× COPY's rows/s`,
      })
    } else if (g === 'H') {
      const hydrated = get(w, 'pg+toMessage')
      targets.push({
        name: `H: hydrating ${fmt(w.workload.rowsPerOp)} rows adds ≤ 20% over raw pg rows (the issue: 10k rows)`,
        met: hydrated?.ratio == null ? null : hydrated.ratio <= 1.2,
        detail: `pg+toMessage ${ratio(hydrated?.ratio)} raw pg rows; automagik-db (pages of 1000) ${ratio(get(w, 'automagik-db')?.ratio)}`,
      })
    }
  }
  const steps = results.filter((w) => w.workload.group === '6')
  if (steps.length > 1) {
    const medians = steps.map((w) => get(w, 'automagik-db')?.medianUs ?? Number.NaN)
    const spread = Math.max(...medians) / Math.min(...medians)
    targets.push({
      name: `6: flat within 1.5× from ${steps[0]!.workload.id} to ${steps[steps.length - 1]!.workload.id}`,
      met: Number.isNaN(spread) ? null : spread <= 1.5,
      detail: `automagik-db medians ${medians.map((m) => fmtUs(m)).join(' / ')} µs (max/min ${spread.toFixed(2)})`,
    })
  }
  return targets
}

const mark = (met: boolean | null) => (met === null ? '?' : met ? 'met' : 'NOT met')

export function textTargets(targets: readonly Target[]): string {
  return targets.map((t) => `  [${mark(t.met).padEnd(7)}] ${t.name}: ${t.detail}`).join('\n')
}

function markdown(meta: RunMeta, results: readonly WorkloadResult[], targets: readonly Target[]): string {
  const out: string[] = []
  out.push(`# automagik-db benchmark: ${meta.backend} (${meta.scale.name} scale)`, '')
  out.push(`- date: ${meta.date}`)
  out.push(`- database: ${meta.database}`)
  out.push(`- host: ${meta.host.cpu}, ${meta.host.cores} cores, ${meta.host.memoryGb} GB, ${meta.host.os}, Node ${meta.host.node}`)
  out.push(`- load average at start: ${meta.host.loadAverage.join(' / ')}`)
  out.push(`- versions: ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  if (meta.durationSec !== undefined) out.push(`- duration: ${meta.durationSec.toFixed(0)} s; process peak RSS ${fmt(meta.peakRssMb)} MB`)
  out.push(
    `- method: contenders interleaved in ${meta.scale.rounds} rounds (rotated order) of ${meta.scale.batchMs} ms batches after a ${meta.scale.warmupMs} ms warm-up; ` +
      `throughput ${meta.scale.throughputRounds} × ${meta.scale.throughputMs} ms; bulk ${meta.scale.bulkRounds} calls each. ` +
      'ratio = median time ÷ baseline median time (throughput: baseline ops/s ÷ ops/s). Every operation verifies its result. ' +
      'peak RSS is the whole process (all contenders share it), sampled after each batch.',
  )
  for (const n of meta.notes) out.push(`- ${n}`)
  out.push('', '## Targets (issues 4 and 10)', '')
  for (const t of targets) out.push(`- **${mark(t.met)}** — ${t.name}: ${t.detail}`)
  out.push('', '## Results', '')
  for (const r of results) {
    const summaries = summarize(r.workload, r.results)
    out.push(`### ${r.workload.id}. ${r.workload.title}`, '', `baseline: \`${r.workload.baseline}\``, '')
    out.push(`| ${HEADER.join(' | ')} |`, `|${HEADER.map((_, c) => (c === 0 ? ':--' : '--:')).join('|')}|`)
    for (const s of summaries) out.push(`| ${rowCells(s).join(' | ')} |`)
    out.push('')
    for (const c of r.workload.contenders) out.push(`- \`${c.id}\`: ${c.label}`)
    for (const n of r.workload.notes ?? []) out.push(`- ${n}`)
    out.push('')
  }
  return out.join('\n')
}

export async function writeReports(outDir: string, meta: RunMeta, results: readonly WorkloadResult[], targets: readonly Target[]): Promise<string[]> {
  await mkdir(outDir, { recursive: true })
  const base = path.join(outDir, `bench-${meta.backend}`)
  const json = {
    meta,
    targets,
    workloads: results.map((r) => ({
      id: r.workload.id,
      group: r.workload.group,
      title: r.workload.title,
      baseline: r.workload.baseline,
      mode: r.workload.mode,
      rowsPerOp: r.workload.rowsPerOp ?? 1,
      notes: r.workload.notes ?? [],
      results: summarize(r.workload, r.results).map((s) => ({
        ...s,
        medianUs: round(s.medianUs),
        p99Us: round(s.p99Us),
        meanUs: round(s.meanUs),
        opsPerSec: round(s.opsPerSec),
        rowsPerSec: s.rowsPerSec === null ? null : round(s.rowsPerSec),
        ratio: s.ratio === null ? null : Math.round(s.ratio * 1000) / 1000,
        peakRssMb: round(s.peakRssMb),
        peakHeapMb: round(s.peakHeapMb),
        label: r.workload.contenders.find((c) => c.id === s.id)?.label ?? s.label,
      })),
    })),
  }
  await writeFile(`${base}.json`, `${JSON.stringify(json, null, 2)}\n`)
  await writeFile(`${base}.md`, `${markdown(meta, results, targets)}\n`)
  return [`${base}.md`, `${base}.json`]
}

const round = (n: number) => (Number.isFinite(n) ? Math.round(n * 10) / 10 : n)
