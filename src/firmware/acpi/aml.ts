// A small AML encoder (ACPI 6.5, chapter 20 "ACPI Machine Language Specification"): just the
// terms hvsim's DSDT uses. Every function returns the encoded bytes of one term.

export type Aml = number[];

const ZERO_OP = 0x00;
const ONE_OP = 0x01;
const NAME_OP = 0x08;
const BYTE_PREFIX = 0x0a;
const WORD_PREFIX = 0x0b;
const DWORD_PREFIX = 0x0c;
const STRING_PREFIX = 0x0d;
const QWORD_PREFIX = 0x0e;
const SCOPE_OP = 0x10;
const BUFFER_OP = 0x11;
const PACKAGE_OP = 0x12;
const METHOD_OP = 0x14;
const DUAL_NAME_PREFIX = 0x2e;
const MULTI_NAME_PREFIX = 0x2f;
const EXT_OP_PREFIX = 0x5b;
const DEVICE_OP = 0x82; // after ExtOpPrefix
const ROOT_CHAR = 0x5c;
const PARENT_PREFIX_CHAR = 0x5e;
const ARG0_OP = 0x68;
const STORE_OP = 0x70;
const IF_OP = 0xa0;
const ELSE_OP = 0xa1;
const RETURN_OP = 0xa4;

/** PkgLength (20.2.4) for `contentLength` bytes that follow it: the encoding counts itself. */
export function pkgLength(contentLength: number): Aml {
  if (contentLength + 1 <= 0x3f) return [contentLength + 1];
  for (let extra = 1; extra <= 3; extra++) {
    const total = contentLength + 1 + extra;
    if (total < 1 << (4 + 8 * extra)) {
      const out = [(extra << 6) | (total & 0x0f)];
      for (let i = 0; i < extra; i++) out.push((total >>> (4 + 8 * i)) & 0xff);
      return out;
    }
  }
  throw new Error(`AML package too long: ${contentLength} bytes`);
}

/** One NameSeg (20.2.2): a lead A-Z or _, then A-Z, 0-9 or _, padded to 4 with _. */
function nameSeg(seg: string): Aml {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(seg)) throw new Error(`bad AML name segment "${seg}"`);
  const padded = seg.padEnd(4, '_');
  return Array.from(padded, (c) => c.charCodeAt(0));
}

/** NameString (20.2.2): "\\_SB.PCI0", "^PICF", "_HID". */
export function nameString(path: string): Aml {
  const out: Aml = [];
  let rest = path;
  if (rest.startsWith('\\')) {
    out.push(ROOT_CHAR);
    rest = rest.slice(1);
  } else {
    while (rest.startsWith('^')) {
      out.push(PARENT_PREFIX_CHAR);
      rest = rest.slice(1);
    }
  }
  if (rest === '') {
    out.push(0x00); // NullName
    return out;
  }
  const segs = rest.split('.');
  if (segs.length === 2) out.push(DUAL_NAME_PREFIX);
  else if (segs.length > 2) out.push(MULTI_NAME_PREFIX, segs.length);
  for (const s of segs) out.push(...nameSeg(s));
  return out;
}

/** ComputationalData integer (20.2.3), in the shortest encoding. */
export function integer(v: number): Aml {
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`AML integer out of range: ${v}`);
  if (v === 0) return [ZERO_OP];
  if (v === 1) return [ONE_OP];
  if (v <= 0xff) return [BYTE_PREFIX, v];
  if (v <= 0xffff) return [WORD_PREFIX, v & 0xff, v >>> 8];
  if (v <= 0xffff_ffff) return [DWORD_PREFIX, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
  const lo = v % 0x1_0000_0000;
  const hi = Math.floor(v / 0x1_0000_0000);
  return [QWORD_PREFIX, ...integer32le(lo), ...integer32le(hi)];
}

function integer32le(v: number): Aml {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

/** String (20.2.3): ASCII 0x01-0x7f, NUL-terminated. */
export function string(text: string): Aml {
  const out: Aml = [STRING_PREFIX];
  for (const c of text) {
    const code = c.charCodeAt(0);
    if (code < 1 || code > 0x7f) throw new Error(`AML string with non-ASCII character: ${JSON.stringify(text)}`);
    out.push(code);
  }
  out.push(0);
  return out;
}

/** EISAID("PNP0A03"): the compressed 32-bit EISA ID as an integer (ACPI 6.5, 6.1.5 _HID). */
export function eisaId(id: string): Aml {
  return integer(eisaIdValue(id));
}

export function eisaIdValue(id: string): number {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new Error(`bad EISA ID "${id}"`);
  const c = (i: number) => id.charCodeAt(i) - 0x40;
  const vendor = (c(0) << 10) | (c(1) << 5) | c(2);
  const product = parseInt(id.slice(3), 16);
  // Stored big-endian in memory: vendor high byte first.
  return ((vendor >>> 8) | ((vendor & 0xff) << 8) | ((product >>> 8) << 16) | ((product & 0xff) << 24)) >>> 0;
}

/** Buffer (20.2.5.4) holding raw bytes (a ResourceTemplate, for instance). */
export function buffer(data: Aml): Aml {
  const body = [...integer(data.length), ...data];
  return [BUFFER_OP, ...pkgLength(body.length), ...body];
}

/** Package (20.2.5.4) of already-encoded elements (at most 255). */
export function pkg(elements: Aml[]): Aml {
  if (elements.length > 0xff) throw new Error('AML Package with more than 255 elements');
  const body = [elements.length, ...elements.flat()];
  return [PACKAGE_OP, ...pkgLength(body.length), ...body];
}

/** Name(path, object). */
export function name(path: string, object: Aml): Aml {
  return [NAME_OP, ...nameString(path), ...object];
}

/** Scope(path) { terms }. */
export function scope(path: string, terms: Aml[]): Aml {
  const body = [...nameString(path), ...terms.flat()];
  return [SCOPE_OP, ...pkgLength(body.length), ...body];
}

/** Device(path) { terms }. */
export function device(path: string, terms: Aml[]): Aml {
  const body = [...nameString(path), ...terms.flat()];
  return [EXT_OP_PREFIX, DEVICE_OP, ...pkgLength(body.length), ...body];
}

/** Method(path, argCount, NotSerialized) { terms }. */
export function method(path: string, argCount: number, terms: Aml[]): Aml {
  const body = [...nameString(path), argCount & 7, ...terms.flat()];
  return [METHOD_OP, ...pkgLength(body.length), ...body];
}

/** Store(source, target) with a named target. */
export function store(source: Aml, target: string): Aml {
  return [STORE_OP, ...source, ...nameString(target)];
}

/** If(predicate) { terms }. */
export function ifThen(predicate: Aml, terms: Aml[]): Aml {
  const body = [...predicate, ...terms.flat()];
  return [IF_OP, ...pkgLength(body.length), ...body];
}

/** Else { terms } (must directly follow an If). */
export function elseDo(terms: Aml[]): Aml {
  const body = terms.flat();
  return [ELSE_OP, ...pkgLength(body.length), ...body];
}

export function returnValue(value: Aml): Aml {
  return [RETURN_OP, ...value];
}

/** A reference to a named object as an operand (a NameString in a TermArg position). */
export function ref(path: string): Aml {
  return nameString(path);
}

export const arg0: Aml = [ARG0_OP];
