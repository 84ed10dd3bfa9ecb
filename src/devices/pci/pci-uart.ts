// bhyve's PCI 16550 (`-s N,uart[,backend]`): a SIIG CyberSerial 1-port (0x131f:0x2000, class
// 07/00/00 simple communications, 16550-compatible), one 8-port I/O BAR holding the UART's
// registers, INTA#. The UART itself is a separate device the platform creates (devices do not
// import each other): this function forwards BAR accesses to it and drives INTx from its
// interrupt output through setIntx().

import type { DeviceState, PortDevice } from '../device.js';
import { stateObj } from '../state.js';
import { PciFunction } from './pci-function.js';

export const PCI_UART_IDS = { vendorId: 0x131f, deviceId: 0x2000 } as const;
export const CLASS_SIMPLECOMM_UART = 0x07_00_00;
export const PCI_UART_BAR_SIZE = 8;

export class PciUart extends PciFunction {
  /** uart: a 16550 whose registers are at ports 0-7 (its base is 0: BAR offsets are its ports). */
  constructor(name: string, private readonly uart: PortDevice) {
    super({
      vendorId: PCI_UART_IDS.vendorId,
      deviceId: PCI_UART_IDS.deviceId,
      classCode: CLASS_SIMPLECOMM_UART,
      revision: 0,
      subsystemVendorId: 0,
      subsystemId: 0,
      interruptPin: 1,
    }, name);
    this.defineBar(0, {
      kind: 'io',
      size: PCI_UART_BAR_SIZE,
      handler: {
        read: (offset, size) => uart.ioRead(offset & 7, size),
        write: (offset, size, value) => uart.ioWrite(offset & 7, size, value),
      },
    });
  }

  protected override onReset(): void {
    this.uart.reset();
  }

  override saveState(): DeviceState {
    return { ...super.saveState(), uart: this.uart.saveState() };
  }

  override loadState(s: DeviceState): void {
    super.loadState(s);
    this.uart.loadState(stateObj(s, 'uart'));
  }
}
