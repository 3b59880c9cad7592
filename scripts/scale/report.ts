/** The figures as markdown, and their place in docs/scaling.md (between the scale markers). */
import { readFile, writeFile } from 'node:fs/promises'
import type { LoadReport } from './load.js'
import type { PruneReport } from './prune.js'
import { WRITERS } from './prune.js'
import type { ReadRow } from './reads.js'
import type { Machine, SizeRow } from './sizes.js'
import { int, ms } from './stats.js'

export interface Results {
  command: string
  date: string
  machine: Machine
  load?: LoadReport
  reads: ReadRow[]
  search: ReadRow[]
  prune?: PruneReport | string
  sizes: { rows: SizeRow[]; messages: number; bytesPerMessage: number }
  /** Rows and total size of messages after the prune (before any VACUUM of its own). */
  afterPrune?: { messages: number; total: string; deadRows: number }
  plans: { what: string; lines: string[] }[]
  seconds: number
}

const BEGIN = '<!-- scale:begin -->'
const END = '<!-- scale:end -->'

export function markdown(r: Results): string {
  const out: string[] = []
  const m = r.machine
  out.push(`Run of ${r.date.slice(0, 16).replace('T', ' ')} UTC: \`${r.command}\` (${(r.seconds / 60).toFixed(1)} min in all).`)
  out.push('')
  out.push(`Machine: ${m.cpus} vCPU (${m.cpuModel}), ${m.ramGb} GB RAM, load average ${m.load} at the end (shared: other work ran alongside).`)
  out.push(`Server: ${m.server.split(' on ')[0]}, Debian defaults: ${Object.entries(m.settings).map(([k, v]) => `${k} ${v}`).join(', ')}.`)
  out.push('')
  if (r.load) {
    const l = r.load
    out.push('| Load | Figure |', '|---|---|')
    out.push(`| rows | ${int(l.messages)} messages, ${int(l.sessions)} sessions, ${int(l.users)} users, ${l.agents} agents, ${int(l.memories)} memories |`)
    out.push(`| mean message text | ${l.meanChars.toFixed(0)} characters |`)
    out.push(`| setup (agents … memories, text pool) | ${l.setupSec.toFixed(1)} s |`)
    out.push(`| messages INSERT … SELECT, ${l.parallel} connections at once, foreign keys ${l.fk === 'on' ? 'checked' : 'not checked (replica role)'}, indexes present: ${l.indexesDuringLoad.join(', ') || 'none'} | ${l.messagesSec.toFixed(0)} s (${int(l.messages / l.messagesSec)} rows/s) |`)
    for (const ix of l.indexSec) out.push(`| build ${ix.name} | ${ix.sec.toFixed(1)} s |`)
    out.push(`| VACUUM ANALYZE | ${l.vacuumSec.toFixed(1)} s |`)
    out.push('')
  }
  out.push('| Read (one client, sequential) | calls | p50 ms | p95 ms | p99 ms | max ms | rows/call |', '|---|---:|---:|---:|---:|---:|---:|')
  for (const row of [...r.reads, ...r.search]) {
    const s = row.summary
    out.push(`| ${row.what} | ${s.n} | ${ms(s.p50)} | ${ms(s.p95)} | ${ms(s.p99)} | ${ms(s.max)} | ${row.rows.toFixed(1)} |`)
  }
  out.push('')
  if (typeof r.prune === 'string') out.push(`Prune: not measured (${r.prune}).`, '')
  else if (r.prune) {
    const p = r.prune
    out.push('| Prune | Figure |', '|---|---|')
    out.push(`| \`messages.prune({ olderThan })\`, cut at | ${p.olderThan.toISOString()} (${int(p.eligible)} messages older) |`)
    out.push(`| deleted | ${int(p.deleted)} rows in ${p.seconds.toFixed(1)} s = **${int(p.deleted / p.seconds)} rows/s** |`)
    out.push(`| batches (DELETE statements) | ${p.batches}; each p50 ${ms(p.batchMs.p50)} ms, max ${ms(p.batchMs.max)} ms |`)
    if (p.error) out.push(`| error | ${p.error} |`)
    out.push('')
    out.push(`| ${WRITERS} writers, \`messages.create\` to random sessions | writes | writes/s | p50 ms | p95 ms | p99 ms | max ms |`, '|---|---:|---:|---:|---:|---:|---:|')
    for (const [name, s, rate] of [['baseline (no prune)', p.baseline, p.baselineRate], ['during the prune', p.during, p.duringRate]] as const) {
      out.push(`| ${name} | ${s.n} | ${rate.toFixed(0)} | ${ms(s.p50)} | ${ms(s.p95)} | ${ms(s.p99)} | ${ms(s.max)} |`)
    }
    out.push('')
  }
  out.push(`| Size (${int(r.sizes.messages)} messages, before the prune) | bytes | pretty |`, '|---|---:|---:|')
  for (const s of r.sizes.rows) out.push(`| ${s.name.replace(/^ {2}/, '&nbsp;&nbsp;')} | ${int(s.bytes)} | ${s.pretty} |`)
  out.push(`| **bytes per message** (messages total / ${int(r.sizes.messages)} rows) | ${int(r.sizes.bytesPerMessage)} | |`)
  if (r.afterPrune) out.push('', `After the prune: ${int(r.afterPrune.messages)} messages, messages total still ${r.afterPrune.total} (${int(r.afterPrune.deadRows)} dead rows for (auto)vacuum to reuse; the files do not shrink).`)
  out.push('')
  for (const plan of r.plans) {
    out.push(`EXPLAIN (ANALYZE, BUFFERS), ${plan.what}:`, '', '```', ...plan.lines, '```', '')
  }
  return out.join('\n')
}

/** Replaces the block between the markers of `path` (appends one when there is none). */
export async function writeDoc(path: string, block: string): Promise<void> {
  let text = ''
  try {
    text = await readFile(path, 'utf8')
  } catch {
    text = '# Scaling\n\n'
  }
  const start = text.indexOf(BEGIN)
  const end = text.indexOf(END)
  const inner = `${BEGIN}\n${block}\n${END}`
  text = start >= 0 && end > start ? text.slice(0, start) + inner + text.slice(end + END.length) : `${text.trimEnd()}\n\n${inner}\n`
  await writeFile(path, text)
}
