// The PCI-ISA (LPC) bridge bhyve puts behind `-s N,lpc`: Intel 0x8086:0x7000, class 06/01, no
// BARs, no interrupt. Its PIRQ route control registers (0x60-0x63 PIRQA-D, 0x68-0x6b PIRQE-H, as
// on Intel PIIX/ICH bridges) report the ISA IRQ each PIRQ line is steered to in PIC mode: bit 7
// clear (routing enabled), bits 3:0 the IRQ. hvsim's routing is fixed (the ACPI tables and the
// MP table describe it), so guest writes to these registers are ignored and the registers keep
// reading the platform's routing. The COM ports, PIC, PIT and RTC "behind" the bridge are the
// PC's own ISA devices: this function only identifies the bridge.

import { PciFunction } from './pci-function.js';

export const LPC_IDS = { vendorId: 0x8086, deviceId: 0x7000 } as const;
export const CLASS_BRIDGE_ISA = 0x06_01_00;
export const LPC_PIRQA_ROUT = 0x60;
export const LPC_PIRQE_ROUT = 0x68;

export class LpcBridge extends PciFunction {
  /** pirqIsaIrqs: ISA IRQ of PIRQA..PIRQH (8 entries). */
  constructor(name: string, pirqIsaIrqs: readonly number[]) {
    super({
      vendorId: LPC_IDS.vendorId,
      deviceId: LPC_IDS.deviceId,
      classCode: CLASS_BRIDGE_ISA,
      revision: 0,
      subsystemVendorId: 0,
      subsystemId: 0,
      interruptPin: 0,
    }, name);
    for (let i = 0; i < 8; i++) {
      const irq = pirqIsaIrqs[i];
      // A PIRQ with no ISA IRQ reads "disabled" (bit 7 set).
      const value = irq !== undefined && irq >= 1 && irq <= 15 ? irq : 0x80;
      this.initConfig((i < 4 ? LPC_PIRQA_ROUT : LPC_PIRQE_ROUT - 4) + i, 1, value);
    }
  }
}
