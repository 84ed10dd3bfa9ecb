// PCI: configuration mechanism #1, functions with BARs and capabilities, MSI/MSI-X, and the
// base-platform emulations (hostbridge, lpc, uart).
export * from './pci-config.js';
export * from './pci-function.js';
export * from './msi.js';
export * from './msix.js';
export * from './pci-host.js';
export * from './hostbridge.js';
export * from './lpc.js';
export * from './pci-uart.js';
