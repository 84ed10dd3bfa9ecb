// The ACPI power-management timer's time base (ACPI 6.5, 4.8.3.3): a 24-bit counter at
// 3.579545 MHz, here floor(ns * 3579545 / 10^9) mod 2^24 of virtual time, exactly.

import { mulDivCeil, mulDivFloor } from '../exact-math.js';

export const PM_TIMER_HZ = 3_579_545;
// PM_TIMER_HZ / 10^9 reduced by gcd 5.
const TICK_NUM = 715_909;
const TICK_DEN = 200_000_000;
export const PM_TMR_MASK = 0xff_ffff;
/** TMR_STS is set each time bit 23 of the counter changes (ACPI 6.5, 4.8.4.1.1): every 2^23 ticks. */
export const PM_TMR_STS_PERIOD_TICKS = 0x80_0000;

/** Ticks of the 3.579545 MHz clock since power-on at virtual time `ns` (not wrapped). */
export function pmTicksAt(ns: number): number {
  return mulDivFloor(ns, TICK_NUM, TICK_DEN);
}

/** The virtual ns at which tick `tick` happens (the first ns with pmTicksAt(ns) >= tick). */
export function pmNsOfTick(tick: number): number {
  return mulDivCeil(tick, TICK_DEN, TICK_NUM);
}

/** PM_TMR value at virtual time `ns`. */
export function pmTimerValue(ns: number): number {
  return pmTicksAt(ns) % 0x100_0000;
}
