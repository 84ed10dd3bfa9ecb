// Reading plain-data device state back. Snapshots come from our own saveState, but a
// corrupted or hand-edited file must fail with a clear message rather than leave a device
// half-loaded with `undefined` in it.

import type { DeviceState } from './device.js';

export function stateNum(s: DeviceState, key: string): number {
  const v = s[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`device state: "${key}" must be a finite number`);
  return v;
}

export function stateBool(s: DeviceState, key: string): boolean {
  const v = s[key];
  if (typeof v !== 'boolean') throw new TypeError(`device state: "${key}" must be a boolean`);
  return v;
}

export function stateNums(s: DeviceState, key: string, length?: number): number[] {
  const v = s[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new TypeError(`device state: "${key}" must be an array of finite numbers`);
  }
  if (length !== undefined && v.length !== length) throw new TypeError(`device state: "${key}" must have ${length} entries`);
  return (v as number[]).slice();
}

export function stateObj(s: DeviceState, key: string): DeviceState {
  const v = s[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError(`device state: "${key}" must be an object`);
  return v as DeviceState;
}

export function stateObjs(s: DeviceState, key: string, length: number): DeviceState[] {
  const v = s[key];
  if (!Array.isArray(v) || v.length !== length || !v.every((x) => typeof x === 'object' && x !== null && !Array.isArray(x))) {
    throw new TypeError(`device state: "${key}" must be an array of ${length} objects`);
  }
  return v as DeviceState[];
}
