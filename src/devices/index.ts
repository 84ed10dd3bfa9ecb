// The PC's basic devices. Each lives in its own folder with its tests; see DESIGN.md.

export type { AttachablePortDevice, PortSpan } from './port-device.js';
export { attachPorts } from './port-device.js';
export { Uart16550, COM1, COM2, type Uart16550Options } from './uart16550/uart16550.js';
export { PicPair, type PicPairOptions } from './pic8259/pic8259.js';
export { Pit8254, PIT_HZ, pitTicksAt, pitNsOfTick, type Pit8254Options } from './pit8254/pit8254.js';
export { Rtc146818, REG_CENTURY, cmosMemoryBytes, splitRam, type Rtc146818Options, type CmosMemoryLayout } from './rtc146818/rtc146818.js';
export { IsaDebugExit, debugExitStatus, type IsaDebugExitOptions } from './debug-exit/debug-exit.js';
export { PostPort, POST_PORT } from './post-port/post-port.js';
export { FwCfg, type FwCfgOptions } from './fw-cfg/fw-cfg.js';
export { PcTestDev, PcTestDevIomem, PC_TESTDEV_IOMEM_BASE, PC_TESTDEV_IOMEM_SIZE, type PcTestDevOptions } from './pc-testdev/pc-testdev.js';
