// Where the platform puts things: the guest-physical and port addresses that devices, the
// firmware tables (ACPI, MP table, SMBIOS) and the machine must agree on. One file, so the
// MADT, the DSDT and the devices cannot drift apart. Values follow the PC conventions that
// bhyve and QEMU also use, so a stock kernel finds everything where it looks first.

/** Local APIC MMIO page (SDM vol. 3, 11.4.1: default IA32_APIC_BASE). Each vCPU sees its own. */
export const LAPIC_BASE = 0xfee0_0000;
export const LAPIC_SIZE = 0x1000;
/** LAPIC timer input clock: 1 GHz, i.e. one tick per virtual nanosecond before the divider (as KVM). */
export const LAPIC_TIMER_HZ = 1_000_000_000;

/** IOAPIC register window (IOREGSEL at +0x00, IOWIN at +0x10; 82093AA datasheet 3.0). */
export const IOAPIC_BASE = 0xfec0_0000;
export const IOAPIC_SIZE = 0x1000;
/** Redirection entries (bhyve's vioapic has 32; GSIs 0-15 ISA, 16-31 PCI INTx). */
export const IOAPIC_PINS = 32;
/** The IOAPIC's ID: after the highest LAPIC ID (the MP table needs IDs unique across both). */
export function ioapicId(vcpus: number): number {
  return vcpus;
}

/** HPET register block (IA-PC HPET spec 1.0a, 2.3). */
export const HPET_BASE = 0xfed0_0000;
export const HPET_SIZE = 0x400;
/** HPET main counter: 10 MHz (period 100 000 000 fs), below the spec's 100 ns maximum period. */
export const HPET_HZ = 10_000_000;
export const HPET_TIMERS = 3;

/** ACPI fixed-hardware registers (ACPI 6.5, 4.8) at bhyve's ports. */
export const PM1A_EVT_BLK = 0x400; // PM1a_STS (2) + PM1a_EN (2)
export const PM1A_CNT_BLK = 0x404; // PM1a_CNT (2)
export const PM_TMR_BLK = 0x408; // 24-bit PM timer at 3.579545 MHz (4)
export const SMI_CMD = 0xb2;
export const ACPI_ENABLE = 0xa0;
export const ACPI_DISABLE = 0xa1;
/** SCI interrupt (ISA IRQ / GSI 9, level, active low as ACPI requires). */
export const SCI_IRQ = 9;
/** SLP_TYP value of \_S5 (soft off) that the DSDT advertises and PM1a_CNT acts on. */
export const SLP_TYP_S5 = 5;
/** The reset register (FADT RESET_REG): port 0xcf9, value 0x06. */
export const RESET_PORT = 0xcf9;
export const RESET_VALUE = 0x06;

/** PCI configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2). */
export const PCI_CONFIG_ADDRESS = 0xcf8;
export const PCI_CONFIG_DATA = 0xcfc;
/** Where BARs are placed: I/O from 0x2000 (above the ISA and ACPI ports), 32-bit memory in the
 *  hole between the top of RAM (at most 0xe000_0000) and the IOAPIC. */
export const PCI_IO_BASE = 0x2000;
export const PCI_IO_LIMIT = 0x1_0000;
export const PCI_MMIO_BASE = 0xe000_0000;
export const PCI_MMIO_LIMIT = 0xfec0_0000;
/** PCI INTx: pin A-D (0-3) of a slot goes to IOAPIC GSI 16 + (slot + pin) mod 8 (a fixed swizzle
 *  the DSDT's _PRT and the MP table describe), and in PIC mode to the ISA IRQ of that PIRQ. */
export function pciIntxGsi(slot: number, pin: number): number {
  return 16 + ((slot + pin) & 7);
}
/** ISA IRQ of each of the 8 PIRQ lines (PIRQA-H) when the PIC is in use: the free ISA IRQs. */
export const PIRQ_ISA_IRQS: readonly number[] = [5, 10, 11, 5, 10, 11, 5, 10];
export function pciIntxIsaIrq(slot: number, pin: number): number {
  return PIRQ_ISA_IRQS[(slot + pin) & 7];
}

/** Legacy ISA IRQ to GSI: identity except the PIT (IRQ 0), which the IOAPIC sees on pin 2 (the
 *  interrupt source override every PC's MADT carries). */
export function isaIrqToGsi(irq: number): number {
  return irq === 0 ? 2 : irq;
}

/** Firmware tables live in the BIOS area (reserved in the e820 map): bhyve's addresses. */
export const BIOS_AREA_BASE = 0xf_0000;
export const BIOS_AREA_SIZE = 0x1_0000;
/** MP floating pointer + MP config table. */
export const MPTABLE_BASE = 0xf_0000;
/** ACPI RSDP and tables (the RSDP sits in the 0xe0000-0xfffff window the OS scans). */
export const ACPI_BASE = 0xf_2400;
/** SMBIOS entry point and tables. */
export const SMBIOS_BASE = 0xf_1000;
