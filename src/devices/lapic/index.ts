// The local APIC (xAPIC and x2APIC) and its timer; see docs/devices/lapic.md.

export { LocalApic, type LocalApicOptions } from './local-apic.js';
export { APIC_TIMER_HZ } from './lapic-timer.js';
export { APIC_VERSION, MSR_APIC_BASE, MSR_TSC_DEADLINE, MSR_X2APIC_FIRST, MSR_X2APIC_LAST } from './lapic-registers.js';
