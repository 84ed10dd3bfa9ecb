// ResourceTemplate descriptors (ACPI 6.5, 6.4 "Resource Data Types for ACPI"), as raw bytes
// to go inside an AML Buffer. Small items: tag byte = (name << 3) | length; large items: tag
// byte = 0x80 | name, then a 16-bit length.

import type { Aml } from './aml.js';

const le16 = (v: number): Aml => [v & 0xff, (v >>> 8) & 0xff];
const le32 = (v: number): Aml => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** I/O Port Descriptor (6.4.2.5), Decode16: a fixed range [base, base + length). */
export function io(base: number, length: number, alignment = 1): Aml {
  return [0x47, 0x01, ...le16(base), ...le16(base), alignment, length];
}

/** IRQ Descriptor without the flags byte (6.4.2.1): ISA edge, active high, exclusive. */
export function irqNoFlags(irq: number): Aml {
  const mask = 1 << irq;
  return [0x22, ...le16(mask)];
}

/** Extended Interrupt Descriptor (6.4.3.6), consumer: level/edge, polarity, shared. */
export function extendedIrq(gsi: number, opts: { level: boolean; activeLow: boolean; shared: boolean }): Aml {
  const flags = 0x01 | (opts.level ? 0 : 0x02) | (opts.activeLow ? 0x04 : 0) | (opts.shared ? 0x08 : 0);
  return [0x89, ...le16(6), flags, 1, ...le32(gsi)];
}

/** 32-Bit Fixed Memory Range Descriptor (6.4.3.4). */
export function memory32Fixed(base: number, length: number, writable: boolean): Aml {
  return [0x86, ...le16(9), writable ? 1 : 0, ...le32(base), ...le32(length)];
}

/** Resource types of the address space descriptors (6.4.3.5, Table 6.50). */
const RESOURCE_MEMORY = 0;
const RESOURCE_IO = 1;
const RESOURCE_BUS = 2;
/** General flags: _MIF and _MAF fixed, positive decode, producer (a bridge window). */
const PRODUCER_FIXED = 0x0c;

/** Word Bus Number descriptor (6.4.3.5.3): the buses [first, last] below a root bridge. */
export function wordBusNumber(first: number, last: number): Aml {
  return [0x88, ...le16(13), RESOURCE_BUS, PRODUCER_FIXED, 0,
    ...le16(0), ...le16(first), ...le16(last), ...le16(0), ...le16(last - first + 1)];
}

/** DWord I/O window (6.4.3.5.2) [first, last], ISA and non-ISA ranges (_RNG = 3). */
export function dwordIo(first: number, last: number): Aml {
  return [0x87, ...le16(23), RESOURCE_IO, PRODUCER_FIXED, 0x03,
    ...le32(0), ...le32(first), ...le32(last), ...le32(0), ...le32(last - first + 1)];
}

/** DWord memory window (6.4.3.5.2) [first, last], read-write, non-cacheable. */
export function dwordMemory(first: number, last: number): Aml {
  return [0x87, ...le16(23), RESOURCE_MEMORY, PRODUCER_FIXED, 0x01,
    ...le32(0), ...le32(first), ...le32(last), ...le32(0), ...le32(last - first + 1)];
}

/** A ResourceTemplate's bytes: the descriptors then End Tag (6.4.2.9) with checksum 0 ("ok"). */
export function resourceTemplate(descriptors: Aml[]): Aml {
  return [...descriptors.flat(), 0x79, 0x00];
}
