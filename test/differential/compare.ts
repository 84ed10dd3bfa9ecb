// Comparing an oracle result with hvsim's, masking what the SDM leaves undefined, and printing a
// mismatch so it can be reproduced by hand (code bytes, listing, initial state, both results).

import type { SnippetResult } from '../../src/machine/snippet.js';
import type { OracleAnswer } from '../oracle/kvm.js';
import type { Case } from './arbitraries.js';
import { AF, CF, DF, OF, PF, SF, ZF, type CompareMask } from './builder.js';
import { regName } from './x86.js';

const FLAG_NAMES: Array<[number, string]> = [[CF, 'CF'], [PF, 'PF'], [AF, 'AF'], [ZF, 'ZF'], [SF, 'SF'], [DF, 'DF'], [OF, 'OF']];

export function flagText(f: number, mask = -1): string {
  return FLAG_NAMES.filter(([b]) => mask & b).map(([b, n]) => (f & b ? n : n.toLowerCase())).join(' ');
}

function h64([lo, hi]: [number, number]): string {
  return (hi >>> 0).toString(16).padStart(8, '0') + '_' + (lo >>> 0).toString(16).padStart(8, '0');
}

function outcomeText(r: SnippetResult): string {
  return r.outcome === 'exception' ? `exception ${r.vector}` : r.outcome;
}

/** The mask that applies to a result: the HLT mask or, if the snippet stopped on an exception, the
 *  exception mask. */
export function maskFor(c: Case, oracle: SnippetResult): CompareMask {
  return oracle.outcome === 'exception' ? c.built.atException : c.built.atHlt;
}

/** Differences between the oracle's and hvsim's results, ignoring undefined state. */
export function compareResults(c: Case, oracle: SnippetResult, hv: SnippetResult): string[] {
  const diffs: string[] = [];
  if (oracle.outcome !== hv.outcome || oracle.vector !== hv.vector) {
    diffs.push(`outcome: kvm ${outcomeText(oracle)}, hvsim ${outcomeText(hv)}`);
    return diffs;
  }
  const m = maskFor(c, oracle);
  const fd = (oracle.rflags ^ hv.rflags) & m.flags;
  if (fd) diffs.push(`rflags: kvm ${flagText(oracle.rflags, m.flags)}, hvsim ${flagText(hv.rflags, m.flags)} (differ: ${flagText(fd, fd).toUpperCase()})`);
  for (let i = 0; i < c.env.nregs; i++) {
    const [klo, khi] = oracle.gprs[i]!;
    const [hlo, hhi] = hv.gprs[i] ?? [NaN, NaN];
    const lo = m.lo[i] && klo >>> 0 !== hlo >>> 0;
    const hi = m.hi[i] && khi >>> 0 !== hhi >>> 0;
    if (lo || hi) diffs.push(`${regName(i, 64)}: kvm ${h64(oracle.gprs[i]!)}, hvsim ${h64(hv.gprs[i] ?? [0, 0])}${lo ? '' : ' (bits 63:32)'}`);
  }
  return diffs;
}

/** A readable report of one case, with the results when given. */
export function describeCase(c: Case, oracle?: OracleAnswer, hv?: SnippetResult, diffs: string[] = []): string {
  const { input, env, built } = c;
  const code = Array.from(input.code, (b) => b.toString(16).padStart(2, '0')).join('');
  const lines = [
    `group ${c.group}, ${input.mode}-bit mode; base ${regName(env.base, 64)}=${env.baseVal.toString(16)}` +
      (env.index === null ? '' : `, index ${regName(env.index, 64)}=${env.indexVal.toString(16)}`),
    `code ${code}`,
    ...built.listing.map((l) => '  ' + l),
    `initial rflags ${input.rflags.toString(16)} (${flagText(input.rflags)})`,
  ];
  const m = oracle && oracle.outcome !== 'nooracle' ? maskFor(c, oracle) : built.atHlt;
  lines.push(`  ${'reg'.padEnd(4)} ${'initial'.padEnd(17)}  ${'kvm'.padEnd(17)}  ${'hvsim'.padEnd(17)}`);
  for (let i = 0; i < env.nregs; i++) {
    const k = oracle && oracle.outcome !== 'nooracle' ? h64(oracle.gprs[i]!) : '-';
    const hh = hv ? h64(hv.gprs[i] ?? [0, 0]) : '-';
    const masked = !m.lo[i] ? ' (undefined: ignored)' : input.mode === 64 && !m.hi[i] ? ' (bits 63:32 undefined)' : '';
    const mark = k !== '-' && hh !== '-' && k !== hh && !masked ? ' <--' : '';
    lines.push(`  ${regName(i, 64).padEnd(4)} ${h64(input.gprs[i]!)}  ${k.padEnd(17)}  ${hh.padEnd(17)}${masked}${mark}`);
  }
  if (oracle) {
    lines.push(oracle.outcome === 'nooracle' ? `kvm: no oracle (${oracle.detail})` : `kvm:   ${outcomeText(oracle)}, rflags ${oracle.rflags.toString(16)} (${flagText(oracle.rflags)})`);
  }
  if (hv) lines.push(`hvsim: ${outcomeText(hv)}, rflags ${hv.rflags.toString(16)} (${flagText(hv.rflags)})`);
  lines.push(`compared flags: ${flagText(-1, m.flags)}`);
  for (const d of diffs) lines.push(`DIFF ${d}`);
  return lines.join('\n');
}
