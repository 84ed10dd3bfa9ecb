// The interrupt command register as an APIC bus message (Intel SDM vol. 3A 11.6.1, figure 11-12;
// x2APIC: 11.12.9).

import type { ApicMessage } from '../../machine/irq.js';
import { ICR_DEST_LOGICAL, ICR_LEVEL_ASSERT, ICR_SHORTHAND_SHIFT, ICR_TRIGGER_LEVEL } from './lapic-registers.js';

// Delivery modes in ICR bits 10:8.
const DM_SMI = 2;
const DM_INIT = 5;
const DM_EXTINT = 7;

/**
 * The message an ICR write sends, or null when nothing is sent: the reserved delivery modes
 * 011b and 111b, and SMI (no SMM here). `destination` is the ICR high destination field (8-bit
 * xAPIC ID/logical mask, or the 32-bit x2APIC destination); the all-including/excluding-self
 * shorthands carry the broadcast ID, self carries the sender's present APIC ID (`selfId`).
 * `source` is the sender's initial APIC ID (its vCPU index), which the machine routes the
 * shorthands by, whatever the guest wrote to the xAPIC ID register.
 */
export function icrMessage(lo: number, destination: number, selfId: number, source: number, x2apic: boolean): ApicMessage | null {
  const mode = (lo >> 8) & 7;
  if (mode === 3 || mode === DM_EXTINT || mode === DM_SMI) return null;
  const shorthand = (lo >>> ICR_SHORTHAND_SHIFT) & 3;
  const broadcast = x2apic ? 0xffff_ffff : 0xff;
  const levelTriggered = (lo & ICR_TRIGGER_LEVEL) !== 0;
  return {
    vector: lo & 0xff,
    deliveryMode: mode,
    logical: (lo & ICR_DEST_LOGICAL) !== 0,
    dest: shorthand >= 2 ? broadcast : shorthand === 1 ? selfId : destination >>> 0,
    levelTriggered,
    // Only INIT has a de-assert form (level-triggered with level 0); every other message asserts.
    assert: mode === DM_INIT ? (lo & ICR_LEVEL_ASSERT) !== 0 || !levelTriggered : true,
    shorthand,
    source,
  };
}
