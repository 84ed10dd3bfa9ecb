// The VM API (src/api/vmm.ts, shaped like OpenBSD vmm(4)'s ioctls): model-based sequences of
// create/run/info/terminate/resetcpu/intr/readregs/writeregs/readvmparams/writevmparams, valid
// and invalid, each answered by what the model predicts: the errno vmm(4) gives (ENOENT for an
// unknown VM, EINVAL for a bad argument) or the state the model holds. Any other exception, from
// any input, is a failure: the API never throws on a caller's values except its VmmError.

import fc, { type Command } from 'fast-check';
import { Vmm, VmmError } from '../src/api/vmm.js';
import type { VcpuRegistersUpdate } from '../src/machine/cpu/register-state.js';
import { defineProperty } from './define.js';

interface ModelVm {
  id: number;
  name: string;
  vcpus: number;
  memoryBytes: number;
  /** Per vCPU: vm_rwvmparams (pvclock GPA and version) and RAX when known (null after a run). */
  cpus: { gpa: number; version: number; rax: bigint | null }[];
  tscKHz: number;
}

interface Model {
  vms: ModelVm[];
  nextId: number;
}

/** Call `f`; the errno it failed with (a VmmError), or null. Any other exception propagates. */
function errnoOf(f: () => unknown): string | null {
  try {
    f();
    return null;
  } catch (e) {
    if (e instanceof VmmError) return e.errno;
    throw e;
  }
}

function expectErrno(what: string, got: string | null, want: string | null): void {
  if (got !== want) throw new Error(`${what}: ${got ?? 'success'}, the model says ${want ?? 'success'}`);
}

const MiB = 1 << 20;
const BOGUS_ID = 9999;

/** The VM a command names: an existing one by index, or an id that never existed. */
const pickVm = (m: Model, pick: number): { id: number; vm: ModelVm | null } =>
  pick < 0 || m.vms.length === 0 ? { id: BOGUS_ID, vm: null } : { id: m.vms[pick % m.vms.length].id, vm: m.vms[pick % m.vms.length] };

/** ENOENT for an unknown VM, EINVAL for a vCPU it does not have (vmm(4) order of checks). */
const targetErrno = (vm: ModelVm | null, vcpu: number): string | null => (vm === null ? 'ENOENT' : Number.isInteger(vcpu) && vcpu >= 0 && vcpu < vm.vcpus ? null : 'EINVAL');

abstract class VmCommand implements Command<Model, Vmm> {
  check(): boolean {
    return true;
  }
  abstract run(m: Model, r: Vmm): void;
  abstract toString(): string;
}

class Create extends VmCommand {
  constructor(readonly name: string, readonly vcpus: number, readonly memoryBytes: number, readonly tscKHz: number) {
    super();
  }
  run(m: Model, r: Vmm): void {
    const valid =
      this.name.length >= 1 && this.name.length <= 128 && !m.vms.some((v) => v.name === this.name) &&
      Number.isInteger(this.vcpus) && this.vcpus >= 1 && this.vcpus <= 16 &&
      Number.isInteger(this.memoryBytes) && this.memoryBytes >= MiB && this.memoryBytes % 4096 === 0 && this.memoryBytes <= 0xe000_0000 &&
      Number.isInteger(this.tscKHz) && this.tscKHz >= 1000 && this.tscKHz <= 100_000_000;
    let id = -1;
    const e = errnoOf(() => (id = r.create({ name: this.name, vcpus: this.vcpus, memoryBytes: this.memoryBytes, tscKHz: this.tscKHz })));
    expectErrno(this.toString(), e, valid ? null : 'EINVAL');
    if (!valid) return;
    if (id !== m.nextId) throw new Error(`create gave id ${id}, the model expects ${m.nextId} (ids increase)`);
    m.nextId++;
    m.vms.push({ id, name: this.name, vcpus: this.vcpus, memoryBytes: this.memoryBytes, tscKHz: this.tscKHz, cpus: Array.from({ length: this.vcpus }, () => ({ gpa: 0, version: 0, rax: 0n })) });
  }
  toString(): string {
    return `create(${JSON.stringify(this.name.slice(0, 20))}, vcpus ${this.vcpus}, ${this.memoryBytes} bytes, ${this.tscKHz} kHz)`;
  }
}

class Info extends VmCommand {
  run(m: Model, r: Vmm): void {
    const got = r.info().map((v) => [v.id, v.name, v.memoryBytes, v.vcpus.length]);
    const want = m.vms.map((v) => [v.id, v.name, v.memoryBytes, v.vcpus]);
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`info ${JSON.stringify(got)}, the model says ${JSON.stringify(want)}`);
  }
  toString(): string {
    return 'info()';
  }
}

class Terminate extends VmCommand {
  constructor(readonly pick: number) {
    super();
  }
  run(m: Model, r: Vmm): void {
    const { id, vm } = pickVm(m, this.pick);
    expectErrno(this.toString(), errnoOf(() => r.terminate(id)), vm === null ? 'ENOENT' : null);
    if (vm !== null) m.vms = m.vms.filter((v) => v !== vm);
  }
  toString(): string {
    return `terminate(#${this.pick})`;
  }
}

class Run extends VmCommand {
  constructor(readonly pick: number, readonly vcpu: number, readonly maxInsns: number) {
    super();
  }
  run(m: Model, r: Vmm): void {
    const { id, vm } = pickVm(m, this.pick);
    const want = targetErrno(vm, this.vcpu) ?? (Number.isInteger(this.maxInsns) && this.maxInsns > 0 ? null : 'EINVAL');
    expectErrno(this.toString(), errnoOf(() => r.run(id, this.vcpu, { maxInsns: this.maxInsns })), want);
    if (want === null) vm!.cpus[this.vcpu].rax = null; // whatever the guest code did to it
  }
  toString(): string {
    return `run(#${this.pick}, vcpu ${this.vcpu}, ${this.maxInsns})`;
  }
}

class ResetCpu extends VmCommand {
  constructor(readonly pick: number, readonly vcpu: number) {
    super();
  }
  run(m: Model, r: Vmm): void {
    const { id, vm } = pickVm(m, this.pick);
    const want = targetErrno(vm, this.vcpu);
    expectErrno(this.toString(), errnoOf(() => r.resetcpu(id, this.vcpu)), want);
    if (want === null) vm!.cpus[this.vcpu].rax = 0n; // Intel SDM Vol. 3 Table 10-1 (9-1): EAX = 0 after reset without BIST
  }
  toString(): string {
    return `resetcpu(#${this.pick}, vcpu ${this.vcpu})`;
  }
}

class Intr extends VmCommand {
  constructor(readonly pick: number, readonly vcpu: number, readonly vector: number) {
    super();
  }
  run(m: Model, r: Vmm): void {
    const { id, vm } = pickVm(m, this.pick);
    const want = targetErrno(vm, this.vcpu) ?? (Number.isInteger(this.vector) && this.vector >= 16 && this.vector <= 255 ? null : 'EINVAL');
    expectErrno(this.toString(), errnoOf(() => r.intr(id, this.vcpu, this.vector)), want);
  }
  toString(): string {
    return `intr(#${this.pick}, vcpu ${this.vcpu}, vector ${this.vector})`;
  }
}

class ReadRegs extends VmCommand {
  constructor(readonly pick: number, readonly vcpu: number) {
    super();
  }
  run(m: Model, r: Vmm): void {
    const { id, vm } = pickVm(m, this.pick);
    let rax: bigint | null = null;
    expectErrno(this.toString(), errnoOf(() => (rax = r.readregs(id, this.vcpu).gprs.rax)), targetErrno(vm, this.vcpu));
    const known = vm?.cpus[this.vcpu]?.rax ?? null;
    if (rax !== null && known !== null && rax !== known) throw new Error(`readregs: rax ${rax}, the model says ${known}`);
  }
  toString(): string {
    return `readregs(#${this.pick}, vcpu ${this.vcpu})`;
  }
}

/** Register updates: valid ones set RAX; invalid ones (out of range, reserved, unknown) are EINVAL. */
type RegsCase = { update: VcpuRegistersUpdate; valid: boolean; rax?: bigint };

class WriteRegs extends VmCommand {
  constructor(readonly pick: number, readonly vcpu: number, readonly regs: RegsCase) {
    super();
  }
  run(m: Model, r: Vmm): void {
    const { id, vm } = pickVm(m, this.pick);
    const want = targetErrno(vm, this.vcpu) ?? (this.regs.valid ? null : 'EINVAL');
    expectErrno(this.toString(), errnoOf(() => r.writeregs(id, this.vcpu, this.regs.update)), want);
    if (want === null && this.regs.rax !== undefined) vm!.cpus[this.vcpu].rax = this.regs.rax;
  }
  toString(): string {
    return `writeregs(#${this.pick}, vcpu ${this.vcpu}, ${fc.stringify(this.regs.update)})`;
  }
}

class ReadParams extends VmCommand {
  constructor(readonly pick: number, readonly vcpu: number) {
    super();
  }
  run(m: Model, r: Vmm): void {
    const { id, vm } = pickVm(m, this.pick);
    let got: number[] | null = null;
    expectErrno(this.toString(), errnoOf(() => {
      const p = r.readvmparams(id, this.vcpu);
      got = [p.pvclockSystemGpa, p.pvclockVersion, p.tscKHz];
    }), targetErrno(vm, this.vcpu));
    if (got !== null) {
      const c = vm!.cpus[this.vcpu];
      const want = [c.gpa, c.version, vm!.tscKHz];
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`readvmparams ${JSON.stringify(got)}, the model says ${JSON.stringify(want)}`);
    }
  }
  toString(): string {
    return `readvmparams(#${this.pick}, vcpu ${this.vcpu})`;
  }
}

class WriteParams extends VmCommand {
  constructor(readonly pick: number, readonly vcpu: number, readonly p: { pvclockSystemGpa?: number; pvclockVersion?: number; tscKHz?: number }) {
    super();
  }
  run(m: Model, r: Vmm): void {
    const { id, vm } = pickVm(m, this.pick);
    let want = targetErrno(vm, this.vcpu);
    const { pvclockSystemGpa: gpa, pvclockVersion: ver, tscKHz } = this.p;
    if (want === null) {
      // all or nothing: any bad field is EINVAL and changes nothing
      const gpaOk = gpa === undefined || (Number.isInteger(gpa) && gpa >= 0 && (gpa === 0 || gpa + 32 <= vm!.memoryBytes));
      const verOk = ver === undefined || (Number.isInteger(ver) && ver >= 0 && ver <= 0xffffffff);
      const tscOk = tscKHz === undefined || (Number.isInteger(tscKHz) && tscKHz >= 1000 && tscKHz <= 100_000_000);
      if (!gpaOk || !verOk || !tscOk) want = 'EINVAL';
    }
    expectErrno(this.toString(), errnoOf(() => r.writevmparams(id, this.vcpu, this.p)), want);
    if (want !== null) return;
    const c = vm!.cpus[this.vcpu];
    if (gpa !== undefined) c.gpa = gpa;
    if (ver !== undefined) c.version = ver;
    if (tscKHz !== undefined) vm!.tscKHz = tscKHz; // the VM's TSC: every vCPU's parameter
  }
  toString(): string {
    return `writevmparams(#${this.pick}, vcpu ${this.vcpu}, ${JSON.stringify(this.p)})`;
  }
}

/** Mostly valid values, sometimes invalid ones: an invalid argument must not hide the sequence behind it. */
const mostly = <T,>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<T>): fc.Arbitrary<T> => fc.oneof({ weight: 7, arbitrary: valid }, { weight: 1, arbitrary: invalid });

function commandsArb() {
  const pick = fc.integer({ min: -1, max: 5 });
  const vcpu = mostly(fc.integer({ min: 0, max: 3 }), fc.constantFrom(-1, 16, 1.5));
  const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
  const regs: fc.Arbitrary<RegsCase> = mostly(
    u64.map((v): RegsCase => ({ update: { gprs: { rax: v } }, valid: true, rax: v })),
    fc.constantFrom<RegsCase>(
      { update: { segments: { cs: { selector: 0xf000, base: 0xf0000n, limit: 0xffff, attributes: 0x9b } } }, valid: true },
      { update: { gprs: { rax: -1n } }, valid: false },
      { update: { gprs: { rax: 1n << 64n } }, valid: false },
      { update: { gprs: { rflags: 1n << 40n } }, valid: false },
      { update: { gprs: { bogus: 1n } } as unknown as VcpuRegistersUpdate, valid: false },
      { update: { segments: { cs: { selector: 0x10000, base: 0n, limit: 0xffff, attributes: 0x9b } } }, valid: false },
    ),
  );
  const create = fc
    .record({
      name: mostly(fc.constantFrom('a', 'b', 'c'), fc.constantFrom('', 'x'.repeat(129))),
      vcpus: mostly(fc.integer({ min: 1, max: 3 }), fc.constantFrom(0, 17, 2.5)),
      mem: mostly(fc.constantFrom(MiB, 2 * MiB), fc.constantFrom(MiB / 2, 2 * MiB + 1, 0xe000_1000)),
      khz: mostly(fc.constant(2_000_000), fc.constantFrom(999, 1000, 100_000_000, 100_000_001)),
    })
    .map((c) => new Create(c.name, c.vcpus, c.mem, c.khz));
  return fc.commands(
    [
      create,
      create,
      fc.constant(new Info()),
      pick.map((p) => new Terminate(p)),
      fc.tuple(pick, vcpu, mostly(fc.integer({ min: 1, max: 200 }), fc.constantFrom(0, -5, 1.5))).map(([p, v, n]) => new Run(p, v, n)),
      fc.tuple(pick, vcpu).map(([p, v]) => new ResetCpu(p, v)),
      fc.tuple(pick, vcpu, mostly(fc.integer({ min: 16, max: 255 }), fc.constantFrom(0, 15, 256, -1, 32.5))).map(([p, v, x]) => new Intr(p, v, x)),
      fc.tuple(pick, vcpu).map(([p, v]) => new ReadRegs(p, v)),
      fc.tuple(pick, vcpu, regs).map(([p, v, g]) => new WriteRegs(p, v, g)),
      fc.tuple(pick, vcpu).map(([p, v]) => new ReadParams(p, v)),
      fc
        .tuple(
          pick,
          vcpu,
          fc.record(
            {
              pvclockSystemGpa: fc.constantFrom(0, 0x1000, MiB - 32, MiB - 16, MiB, -1, 4096.5, 2 ** 40),
              pvclockVersion: fc.constantFrom(0, 7, 0xffffffff, 2 ** 32, -1),
              tscKHz: fc.constantFrom(1000, 2_500_000, 100_000_000, 999, 100_000_001),
            },
            { requiredKeys: [] },
          ),
        )
        .map(([p, v, w]) => new WriteParams(p, v, w)),
    ],
    { maxCommands: 40, size: 'medium' },
  );
}

export const vmApiProperties = [
  defineProperty({
    area: 'vm-api',
    name: 'any sequence of VM API calls gets the errno or the state the vmm(4) model predicts',
    specClause: 'OpenBSD vmm(4) ioctls (VMM_IOC_CREATE ... VMM_IOC_WRITEVMPARAMS) as src/api/vmm.ts documents them; Intel SDM Vol. 3 §10.1.1 (power-up state)',
    quickRuns: 40,
    arbitrary: () => commandsArb(),
    predicate: (cmds) => {
      fc.modelRun(() => ({ model: { vms: [], nextId: 1 } as Model, real: new Vmm() }), cmds);
    },
  }),
];
