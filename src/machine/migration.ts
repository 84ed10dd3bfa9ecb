// The migration knob: at an exact point of the virtual clock, the VM is "migrated" — paused for a
// while and/or resumed on a host whose TSC runs at another frequency — and every personality
// rewrites the clock structures the guest reads (HypervisorPersonality.clockChanged).
//
// Built on the Machine's public members only: the timer queue (the callback runs at exactly
// icount == atInsn, between two instructions), idleInsns (virtual time that passes without
// instructions, as HLT skips it) and setTscKHz (keeps the TSC continuous and calls clockChanged).
// Time only moves forward: a pause adds virtual time, a frequency change keeps the TSC's value.

import type { Machine } from './machine.js';

export interface MigrationPlan {
  /** Virtual time (in instruction units, retired plus idle, as machine.clock.icount) at which it happens. */
  atInsn: number;
  /** The TSC frequency on the destination, in kHz (unchanged when omitted). */
  tscKHz?: number;
  /** How long the VM stays paused, in virtual ns (0 when omitted): TSC and virtual clock jump ahead. */
  pauseNs?: number;
}

/** A personality that wants to know the VM is being paused (KVM sets PVCLOCK_GUEST_STOPPED). */
interface PauseAware {
  guestStopped?(): void;
}

function checkPlan(p: MigrationPlan): void {
  if (!Number.isSafeInteger(p.atInsn) || p.atInsn < 0) throw new RangeError('atInsn must be a non-negative integer');
  if (p.tscKHz !== undefined && (!Number.isInteger(p.tscKHz) || p.tscKHz < 1000 || p.tscKHz > 100_000_000)) {
    throw new RangeError('tscKHz must be an integer 1000-100000000');
  }
  if (p.pauseNs !== undefined && (!Number.isSafeInteger(p.pauseNs) || p.pauseNs < 0)) throw new RangeError('pauseNs must be a non-negative integer');
}

/**
 * Schedule a migration on the machine's timer queue; returns the timer id (machine.clock.cancel
 * takes it back). A point already passed fires at the next instruction boundary.
 */
export function scheduleMigration(machine: Machine, plan: MigrationPlan): number {
  checkPlan(plan);
  const { tscKHz, pauseNs = 0 } = plan;
  return machine.clock.schedule(plan.atInsn, () => {
    const personalities = machine.config.personalities;
    if (pauseNs > 0) {
      for (const p of personalities) (p as PauseAware).guestStopped?.();
      // Idle virtual time, counted in instruction units like HLT's skips; icount follows at once so
      // every clock read from here on (the personalities' rewrite included) sees the resumed time.
      const insns = Math.ceil(pauseNs / machine.clock.nsPerInsn);
      machine.skipIdle(insns);
    }
    if (tscKHz !== undefined && tscKHz !== machine.clock.tscKHz) machine.setTscKHz(tscKHz); // calls clockChanged
    else if (pauseNs > 0) for (const p of personalities) p.clockChanged?.();
  });
}
