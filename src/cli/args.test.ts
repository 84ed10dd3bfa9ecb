import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MEMORY_BYTES,
  DEFAULT_RTC_TIME,
  MAX_MEMORY_BYTES,
  PCI_EMULATIONS,
  UsageError,
  defaultRunConfig,
  helpText,
  parseRtcTime,
  parseRunArgs,
  usage,
  type RunConfig,
} from './args.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Split a command line on white space (the tests never need quoting). */
const argv = (line: string): string[] => line.split(/\s+/).filter((s) => s !== '');
const parse = (line: string): RunConfig => parseRunArgs(argv(line));

/** The UsageError message parseRunArgs throws for these arguments. */
function errorOf(args: string | string[]): string {
  try {
    parseRunArgs(typeof args === 'string' ? argv(args) : args);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    return msg;
  }
  throw new Error(`expected a UsageError for ${JSON.stringify(args)}`);
}

describe('defaults', () => {
  it('a bare vmname gives the documented defaults', () => {
    const cfg = parse('vm1');
    expect(cfg).toEqual({ ...defaultRunConfig(), vmname: 'vm1' });
    expect(cfg).toMatchObject({
      help: null,
      vcpus: 1,
      sockets: 1,
      cores: 1,
      threads: 1,
      maxcpus: 1,
      memoryBytes: 256 * MiB, // bhyve_init_config(): memory.size = "256M"
      serial: [],
      uuid: null,
      strictIo: false,
      ignoreUnknownMsrs: false,
      hltSkipsIdle: false,
      exitOnPause: false,
      acpiTables: false,
      mptable: true,
      x2apic: false,
      pciSlots: [],
      kernel: null,
      append: '',
      initrd: null,
      modules: [],
      hypervisors: [],
      seed: 0,
      maxInsns: null,
      record: null,
      kv: [],
      rtcTime: 946_684_800,
      quiet: false,
    });
    expect(DEFAULT_MEMORY_BYTES).toBe(256 * MiB);
    expect(DEFAULT_RTC_TIME).toBe(parseRtcTime('2000-01-01T00:00:00Z'));
  });

  it('defaultRunConfig returns fresh arrays each time', () => {
    const a = defaultRunConfig();
    a.modules.push({ path: 'x', string: null });
    expect(defaultRunConfig().modules).toEqual([]);
  });
});

describe("bhyve.8's EXAMPLES", () => {
  it('1 GB, two vCPUs, virtio-blk, console on stdio', () => {
    const cfg = parse('-c 2 -s 0,hostbridge -s 1,lpc -s 2,virtio-blk,/my/image -l com1,stdio -H -P -m 1G vm1');
    expect(cfg.vmname).toBe('vm1');
    expect(cfg.vcpus).toBe(2);
    expect(cfg.sockets).toBe(2); // sockets default to the CPU count
    expect(cfg.memoryBytes).toBe(GiB);
    expect(cfg.hltSkipsIdle).toBe(true);
    expect(cfg.exitOnPause).toBe(true);
    expect(cfg.serial).toEqual([{ port: 'com1', backend: { kind: 'stdio' } }]);
    expect(cfg.pciSlots).toEqual([
      { bus: 0, slot: 0, function: 0, emulation: 'hostbridge', conf: null, arg: '0,hostbridge' },
      { bus: 0, slot: 1, function: 0, emulation: 'lpc', conf: null, arg: '1,lpc' },
      { bus: 0, slot: 2, function: 0, emulation: 'virtio-blk', conf: '/my/image', arg: '2,virtio-blk,/my/image' },
    ]);
  });

  it('three network ports on functions of one slot (with 24G above hvsim’s memory limit)', () => {
    const line =
      '-s 0,hostbridge -s 1,lpc -s 2:0,virtio-net,tap0 -s 2:1,virtio-net,tap1 ' +
      '-s 2:2,virtio-net,tap2,mac=00:be:fa:76:45:00 -s 3,virtio-blk,/my/image -l com1,stdio -H -P -m MEM bigvm';
    expect(errorOf(line.replace('MEM', '24G'))).toBe("-m 24G: memory size 24 GiB is above hvsim's limit of 3.5 GiB");
    const cfg = parse(line.replace('MEM', '3G'));
    expect(cfg.vmname).toBe('bigvm');
    expect(cfg.vcpus).toBe(1);
    expect(cfg.pciSlots.map((s) => [s.slot, s.function, s.emulation, s.conf])).toEqual([
      [0, 0, 'hostbridge', null],
      [1, 0, 'lpc', null],
      [2, 0, 'virtio-net', 'tap0'],
      [2, 1, 'virtio-net', 'tap1'],
      [2, 2, 'virtio-net', 'tap2,mac=00:be:fa:76:45:00'],
      [3, 0, 'virtio-blk', '/my/image'],
    ]);
  });

  it('the AHCI example puts ahci on 1:0, which -s 1,lpc already holds', () => {
    const line =
      '-c 4 -s 0,amd_hostbridge -s 1,lpc -s 1:0,ahci,hd:/images/disk.1,hd:/images/disk.2,cd:/images/install.iso ' +
      '-s 3,virtio-net,tap0 -l com1,/dev/nmdm0A -H -P -m 8G vm';
    expect(errorOf(line)).toBe(
      '-s 1:0,ahci,hd:/images/disk.1,hd:/images/disk.2,cd:/images/install.iso: PCI slot 0:1:0 is already occupied by -s 1,lpc',
    );
    const cfg = parse(line.replace('1:0,ahci', '2:0,ahci').replace('8G', '2G'));
    expect(cfg.vcpus).toBe(4);
    expect(cfg.serial).toEqual([{ port: 'com1', backend: { kind: 'path', path: '/dev/nmdm0A' } }]);
    expect(cfg.pciSlots[2]).toMatchObject({ slot: 2, emulation: 'ahci', conf: 'hd:/images/disk.1,hd:/images/disk.2,cd:/images/install.iso' });
  });

  it('the UEFI example uses features hvsim refuses, each with a clear error', () => {
    expect(errorOf('-c 2 -m 3G -w -H -s 0,hostbridge -s 3,ahci-cd,/path/to/uefi-OS-install.iso uefivm')).toBe(
      '-s 3,ahci-cd,/path/to/uefi-OS-install.iso: PCI device emulation ahci-cd is not supported: hvsim does not emulate AHCI; use virtio-blk',
    );
    expect(errorOf('-s 4,ahci-hd,disk.img uefivm')).toMatch(/^-s 4,ahci-hd,disk.img: PCI device emulation ahci-hd is not supported/);
    expect(errorOf('-l com1,tcp=127.0.0.1:1234 uefivm')).toBe(
      '-l com1,tcp=127.0.0.1:1234: the tcp= TTY backend is not supported by hvsim (use stdio or a path)',
    );
    expect(errorOf('-l bootrom,/usr/local/share/uefi-firmware/BHYVE_UEFI.fd uefivm')).toBe(
      '-l bootrom,/usr/local/share/uefi-firmware/BHYVE_UEFI.fd: LPC device bootrom is not supported by hvsim (only com1-com4)',
    );
    const cfg = parse(
      '-c 2 -m 3G -w -H -s 0,hostbridge -s 5,virtio-net,tap0 -s 29,fbuf,tcp=0.0.0.0:5900,w=800,h=600,wait -s 30,xhci,tablet -s 31,lpc -l com1,stdio uefivm',
    );
    expect(cfg.ignoreUnknownMsrs).toBe(true);
    expect(cfg.pciSlots.find((s) => s.slot === 29)).toMatchObject({ emulation: 'fbuf', conf: 'tcp=0.0.0.0:5900,w=800,h=600,wait' });
  });

  it('the config.dump example (minus ahci-hd and -o)', () => {
    const cfg = parse('-c 2 -m 256 -H -P -s 0:0,hostbridge -s 1:0,virtio-net,tap0 -s 31,lpc -l com1,stdio vm0');
    expect(cfg.memoryBytes).toBe(256 * MiB); // no suffix: MiB
    expect(cfg.pciSlots.map((s) => `${s.bus}:${s.slot}:${s.function}`)).toEqual(['0:0:0', '0:1:0', '0:31:0']);
    expect(errorOf('-c 2 -m 256 -o config.dump=1 vm0')).toBe(
      "-o: bhyve's option (set a configuration variable) is not supported by hvsim",
    );
  });

  it('vCPU pinning (-p 0:12 ...) is a bhyve option hvsim does not have', () => {
    expect(errorOf('-p 0:12 -p 1:13 vm')).toBe("-p: bhyve's option (pin a vCPU to a host CPU) is not supported by hvsim");
  });
});

describe('getopt syntax', () => {
  it('combines flags and attaches values', () => {
    const cfg = parseRunArgs(['-eHPwAYx', '-c2', '-m1G', '-Ucafebabe-0000-4000-8000-000000000001', 'vm']);
    expect(cfg).toMatchObject({
      strictIo: true,
      hltSkipsIdle: true,
      exitOnPause: true,
      ignoreUnknownMsrs: true,
      acpiTables: true,
      mptable: false,
      x2apic: true,
      vcpus: 2,
      memoryBytes: GiB,
      uuid: 'cafebabe-0000-4000-8000-000000000001',
    });
  });

  it('a value-taking option ends a flag cluster and takes the rest of it', () => {
    const cfg = parseRunArgs(['-ec', '4', '-Hm', '512', '-xs0,hostbridge', 'vm']);
    expect(cfg).toMatchObject({ strictIo: true, vcpus: 4, hltSkipsIdle: true, memoryBytes: 512 * MiB, x2apic: true });
    expect(cfg.pciSlots[0].emulation).toBe('hostbridge');
  });

  it('the value of an option may start with a dash', () => {
    expect(errorOf(['-m', '-1G', 'vm'])).toBe('-m -1G: memory size out of range');
    expect(parseRunArgs(['--append', '-v --debug', 'vm']).append).toBe('-v --debug');
  });

  it('-a selects xAPIC; the last of -a / -x wins', () => {
    expect(parse('-x -a vm').x2apic).toBe(false);
    expect(parse('-a -x vm').x2apic).toBe(true);
  });

  it('"--" ends the options', () => {
    expect(parseRunArgs(['-e', '--', 'vm']).vmname).toBe('vm');
    expect(errorOf(['--', '-e'])).toBe(
      "vmname -e: expected 1-128 letters, digits, '_', '.' or '-', starting with a letter, digit or '_'",
    );
  });

  it('options must come before the vmname', () => {
    expect(errorOf('vm1 -m 1G')).toBe("-m: unexpected argument after the vmname vm1 (options must come before the vmname)");
    expect(errorOf('vm1 vm2')).toBe('vm2: unexpected argument after the vmname vm1 (options must come before the vmname)');
  });

  it('the vmname is required', () => {
    expect(errorOf([])).toBe('missing vmname (the last argument)');
    expect(errorOf('-e -m 1G')).toBe('missing vmname (the last argument)');
  });

  it('the vmname is checked', () => {
    expect(parse('my_vm-1.test').vmname).toBe('my_vm-1.test');
    expect(parse('x'.repeat(128)).vmname).toHaveLength(128);
    expect(errorOf(['x'.repeat(129)])).toMatch(/^vmname x+: expected 1-128 letters/);
    expect(errorOf(['-'])).toMatch(/^vmname -: expected/);
    expect(errorOf(['a/b'])).toMatch(/^vmname a\/b: expected/);
    expect(errorOf(['.hidden'])).toMatch(/^vmname \.hidden: expected/);
    expect(errorOf(['has space'])).toMatch(/^vmname "has space": expected/);
    expect(errorOf([''])).toMatch(/^vmname "": expected/);
  });

  it('a missing option value is an error', () => {
    for (const o of ['c', 'm', 'l', 's', 'U']) expect(errorOf([`-${o}`])).toBe(`-${o}: option requires an argument`);
    expect(errorOf(['-e', '-m'])).toBe('-m: option requires an argument');
  });

  it('unknown options are errors', () => {
    expect(errorOf('-Z vm')).toBe('-Z: unknown option (see -h)');
    expect(errorOf('-eq vm')).toBe('-q: unknown option (see -h)');
    expect(errorOf('-e- vm')).toBe('--: unknown option (see -h)');
    expect(errorOf('--frobnicate vm')).toBe('--frobnicate: unknown option (see --help)');
    expect(errorOf('--frobnicate=1 vm')).toBe('--frobnicate: unknown option (see --help)');
    expect(errorOf('--constructor vm')).toBe('--constructor: unknown option (see --help)');
  });

  it('bhyve options hvsim lacks are named as such', () => {
    const cases: Array<[string, string]> = [
      ['C', 'include guest memory in core files'],
      ['D', 'destroy the VM on power-off'],
      ['S', 'wire guest memory'],
      ['u', 'RTC keeps UTC time (use --rtc-time)'],
      ['W', 'single-vector MSI for virtio'],
      ['G', 'GDB debug server'],
      ['k', 'configuration file'],
      ['r', 'resume from a snapshot'],
    ];
    for (const [o, what] of cases) expect(errorOf(`-${o} vm`)).toBe(`-${o}: bhyve's option (${what}) is not supported by hvsim`);
  });
});

describe('help', () => {
  it('-h and --help stop parsing and ask for the usage', () => {
    for (const args of [['-h'], ['--help'], ['-eh'], ['-m', '1G', '-h', 'bad/name', 'extra'], ['--quiet', '--help']]) {
      const cfg = parseRunArgs(args);
      expect(cfg.help).toBe('usage');
      expect(cfg.vmname).toBe('');
    }
  });

  it('-l help and -s help ask for the device lists', () => {
    expect(parse('-l help').help).toBe('lpc');
    expect(parse('-s help').help).toBe('pci');
    expect(helpText('lpc')).toBe('com1\ncom2\ncom3\ncom4\n');
    const pci = helpText('pci').trimEnd().split('\n');
    expect(pci).toHaveLength(PCI_EMULATIONS.length);
    expect(pci).toContain('virtio-net');
    expect(pci).toContain('passthru (not supported: a simulated machine has no host PCI device to pass through)');
  });

  it('--help takes no value', () => {
    expect(errorOf('--help=yes')).toBe('--help: this option takes no value');
  });

  it('usage() names every option', () => {
    const u = usage();
    expect(helpText('usage')).toBe(u);
    for (const o of ['-c', '-m', '-l', '-s', '-U', '-A', '-a', '-e', '-H', '-P', '-w', '-x', '-Y', '-h']) {
      expect(u).toMatch(new RegExp(`^\\s+${o}\\b`, 'm'));
    }
    for (const o of ['kernel', 'append', 'initrd', 'module', 'hypervisor', 'seed', 'max-insns', 'record', 'kv', 'rtc-time', 'quiet', 'help']) {
      expect(u).toContain(`--${o}`);
    }
    expect(u.split('\n').every((l) => l.length <= 100)).toBe(true);
  });
});

describe('-c: vCPUs and topology (bhyve_topology_parse / calc_topology)', () => {
  const ok: Array<[string, [number, number, number, number, number]]> = [
    // [vcpus, sockets, cores, threads, maxcpus]
    ['-c 1', [1, 1, 1, 1, 1]],
    ['-c 4', [4, 4, 1, 1, 4]],
    ['-c cpus=4', [4, 4, 1, 1, 4]],
    ['-c 0x10', [16, 16, 1, 1, 16]], // strtol base 0
    ['-c 010', [8, 8, 1, 1, 8]], // octal, as bhyve reads it
    ['-c 4,sockets=2,cores=2', [4, 2, 2, 1, 4]],
    ['-c cpus=8,sockets=1,cores=4,threads=2', [8, 1, 4, 2, 8]],
    ['-c sockets=2,cores=2,threads=2', [8, 2, 2, 2, 8]], // cpus computed
    ['-c cores=4', [4, 1, 4, 1, 4]], // sockets default to cpus (1)
    ['-c threads=2', [2, 1, 1, 2, 2]],
    ['-c 2,maxcpus=4', [2, 2, 1, 1, 4]],
    ['-c maxcpus=16', [1, 1, 1, 1, 16]],
    ['-c 16', [16, 16, 1, 1, 16]],
  ];
  it.each(ok)('%s', (line, [vcpus, sockets, cores, threads, maxcpus]) => {
    expect(parse(`${line} vm`)).toMatchObject({ vcpus, sockets, cores, threads, maxcpus });
  });

  it('-c "" is one of everything (bhyve: by design, matching the manual syntax)', () => {
    expect(parseRunArgs(['-c', '', 'vm'])).toMatchObject({ vcpus: 1, sockets: 1, cores: 1, threads: 1, maxcpus: 1 });
    expect(parseRunArgs(['-c', '8', '-c', '', 'vm'])).toMatchObject({ vcpus: 1, sockets: 1 });
  });

  it('repeated -c merge key by key, the last value of each key winning', () => {
    expect(parse('-c 8 -c 2 vm').vcpus).toBe(2);
    expect(parse('-c sockets=2 -c cores=2 vm')).toMatchObject({ vcpus: 4, sockets: 2, cores: 2 });
    expect(parse('-c 4 -c sockets=2,cores=2 vm')).toMatchObject({ vcpus: 4, sockets: 2, cores: 2 });
    // but -c 4 then -c cores=2 is cpus=4, cores=2 with sockets defaulting to 4: 8 ≠ 4 (error table)
  });

  const bad: Array<[string[], string]> = [
    [['-c', '4,cores=2'], '-c 4,cores=2: topology (4 sockets, 2 cores, 1 threads) does not match 4 vCPUs'],
    [['-c', '4', '-c', 'cores=2'], '-c cores=2: topology (4 sockets, 2 cores, 1 threads) does not match 4 vCPUs'],
    [['-c', '4,sockets=2'], '-c 4,sockets=2: topology (2 sockets, 1 cores, 1 threads) does not match 4 vCPUs'],
    [['-c', '', '-c', 'cores=2'], '-c cores=2: topology (1 sockets, 2 cores, 1 threads) does not match 1 vCPUs'],
    [['-c', '0'], '-c 0: invalid value for cpus: 0 (expected an integer 1-65535)'],
    [['-c', '65536'], '-c 65536: invalid value for cpus: 65536 (expected an integer 1-65535)'],
    [['-c', 'x'], '-c x: invalid value for cpus: x (expected an integer 1-65535)'],
    [['-c', '2,,'], '-c 2,,: invalid value for cpus: "" (expected an integer 1-65535)'],
    [['-c', 'cpus='], '-c cpus=: invalid value for cpus: "" (expected an integer 1-65535)'],
    [['-c', 'cores=-1'], '-c cores=-1: invalid value for cores: -1 (expected an integer 1-65535)'],
    [['-c', 'threads=2x'], '-c threads=2x: invalid value for threads: 2x (expected an integer 1-65535)'],
    [['-c', 'sockets=08'], '-c sockets=08: invalid value for sockets: 08 (expected an integer 1-65535)'],
    [['-c', 'dies=2'], '-c dies=2: invalid cpu topology: unknown key dies (expected cpus, sockets, cores, threads or maxcpus)'],
    [['-c', '17'], '-c 17: 17 vCPUs: hvsim supports at most 16'],
    [['-c', 'sockets=4,cores=4,threads=2'], '-c sockets=4,cores=4,threads=2: 32 vCPUs: hvsim supports at most 16'],
    [['-c', 'sockets=65535,cores=2'], '-c sockets=65535,cores=2: computed number of vCPUs too high: 131070'],
    [['-c', '4,maxcpus=2'], '-c 4,maxcpus=2: maxcpus=2 is below the 4 vCPUs of the topology'],
    [['-c', 'maxcpus=17'], '-c maxcpus=17: maxcpus=17: hvsim supports at most 16 vCPUs'],
  ];
  it.each(bad)('%j', (args, msg) => {
    expect(errorOf([...args, 'vm'])).toBe(msg);
  });
});

describe('-m: memory size', () => {
  const ok: Array<[string, number]> = [
    ['1G', GiB],
    ['1g', GiB],
    ['1000K', 1000 * 1024],
    ['512', 512 * MiB],
    ['512M', 512 * MiB],
    ['512MB', 512 * MiB],
    ['524288K', 512 * MiB],
    ['3584M', MAX_MEMORY_BYTES],
    ['3584', MAX_MEMORY_BYTES],
    ['0xE0000000', MAX_MEMORY_BYTES],
    ['1048576', MiB], // bare numbers from 1 MiB up are bytes
    ['4096b', 4096],
    ['4K', 4096],
    ['1', MiB],
  ];
  it.each(ok)('-m %s', (m, bytes) => {
    expect(parseRunArgs(['-m', m, 'vm']).memoryBytes).toBe(bytes);
  });

  const bad: Array<[string, string]> = [
    ['12Q', '-m 12Q: invalid memory size'],
    ['1.5G', '-m 1.5G: invalid memory size'],
    ['', '-m "": invalid memory size'],
    ['1 G', '-m "1 G": invalid memory size'],
    ['1GiB', '-m 1GiB: invalid memory size'],
    ['16E', '-m 16E: memory size out of range'],
    ['-1G', '-m -1G: memory size out of range'],
    ['0', '-m 0: memory size must not be zero'],
    ['0M', '-m 0M: memory size must not be zero'],
    ['4G', "-m 4G: memory size 4 GiB is above hvsim's limit of 3.5 GiB"],
    ['3585M', "-m 3585M: memory size 3585 MiB is above hvsim's limit of 3.5 GiB"],
    ['-1', "-m -1: memory size 18446744073709551615 bytes is above hvsim's limit of 3.5 GiB"], // strtoul wraps
    ['1001K', '-m 1001K: memory size 1001 KiB is not a multiple of 4 KiB'],
    ['1048577', '-m 1048577: memory size 1048577 bytes is not a multiple of 4 KiB'],
  ];
  it.each(bad)('-m %j', (m, msg) => {
    expect(errorOf(['-m', m, 'vm'])).toBe(msg);
  });

  it('the last -m wins', () => {
    expect(parse('-m 1G -m 512 vm').memoryBytes).toBe(512 * MiB);
  });
});

describe('-l: LPC serial ports', () => {
  it('parses com1-com4 with stdio, a path, or nothing, in port order', () => {
    const cfg = parse('-l com3,/tmp/com3.log -l COM2 -l com1,stdio -l Com4,relative/file vm');
    expect(cfg.serial).toEqual([
      { port: 'com1', backend: { kind: 'stdio' } },
      { port: 'com2', backend: { kind: 'none' } },
      { port: 'com3', backend: { kind: 'path', path: '/tmp/com3.log' } },
      { port: 'com4', backend: { kind: 'path', path: 'relative/file' } },
    ]);
  });

  it('a path may contain commas; stdio is case-sensitive like bhyve', () => {
    expect(parse('-l com1,/a,b vm').serial[0].backend).toEqual({ kind: 'path', path: '/a,b' });
    expect(parse('-l com1,STDIO vm').serial[0].backend).toEqual({ kind: 'path', path: 'STDIO' });
  });

  it('the last -l for a port wins, and may move stdio', () => {
    expect(parse('-l com1,stdio -l com1,/x vm').serial).toEqual([{ port: 'com1', backend: { kind: 'path', path: '/x' } }]);
    expect(parse('-l com1,stdio -l com1,/x -l com2,stdio vm').serial[1]).toEqual({ port: 'com2', backend: { kind: 'stdio' } });
  });

  const bad: Array<[string, string]> = [
    ['com1,stdio -l com2,stdio', '-l com2,stdio: stdio is already connected to com1'],
    ['com5,stdio', '-l com5,stdio: unknown LPC device com5 (expected com1, com2, com3 or com4)'],
    [',stdio', '-l ,stdio: unknown LPC device "" (expected com1, com2, com3 or com4)'],
    ['com1,', '-l com1,: empty TTY backend (expected stdio or a path)'],
    ['com1,tcp=127.0.0.1:1234', '-l com1,tcp=127.0.0.1:1234: the tcp= TTY backend is not supported by hvsim (use stdio or a path)'],
    ['tpm,swtpm,/var/run/swtpm.sock', '-l tpm,swtpm,/var/run/swtpm.sock: LPC device tpm is not supported by hvsim (only com1-com4)'],
    ['fwcfg,qemu', '-l fwcfg,qemu: LPC device fwcfg is not supported by hvsim (only com1-com4)'],
    ['pc-testdev', '-l pc-testdev: LPC device pc-testdev is not supported by hvsim (only com1-com4)'],
    ['bootrom,/rom', '-l bootrom,/rom: LPC device bootrom is not supported by hvsim (only com1-com4)'],
  ];
  it.each(bad)('-l %s', (l, msg) => {
    expect(errorOf(`-l ${l} vm`)).toBe(msg);
  });
});

describe('-s: PCI slots', () => {
  it('parses slot, slot:function and bus:slot:function with their ranges', () => {
    const cfg = parse('-s 0,hostbridge -s 31:7,virtio-rnd -s 255:31:7,virtio-net,tap0 -s 1:2:3,nvme,ram=64 -s 007,uart vm');
    expect(cfg.pciSlots.map(({ bus, slot, function: f, emulation, conf }) => [bus, slot, f, emulation, conf])).toEqual([
      [0, 0, 0, 'hostbridge', null],
      [0, 31, 7, 'virtio-rnd', null],
      [255, 31, 7, 'virtio-net', 'tap0'],
      [1, 2, 3, 'nvme', 'ram=64'],
      [0, 7, 0, 'uart', null],
    ]);
  });

  it('conf is everything after the second comma; an empty conf stays empty', () => {
    expect(parse('-s 3,virtio-blk,/img,ro,sectorsize=512/4096 vm').pciSlots[0].conf).toBe('/img,ro,sectorsize=512/4096');
    expect(parse('-s 3,virtio-blk, vm').pciSlots[0].conf).toBe('');
  });

  it('accepts every bhyve emulation hvsim does not refuse', () => {
    let slot = 0;
    for (const emu of PCI_EMULATIONS) {
      if (emu === 'passthru' || emu === 'ahci-hd' || emu === 'ahci-cd') continue;
      expect(parse(`-s ${slot++},${emu} vm`).pciSlots[0].emulation).toBe(emu);
    }
  });

  const bad: Array<[string, string]> = [
    ['3', '-s 3: expected slot,emulation[,conf]'],
    ['3,', '-s 3,: missing device emulation after the slot'],
    ['32,hostbridge', '-s 32,hostbridge: PCI slot 32 is out of range 0-31'],
    ['1:8,virtio-net', '-s 1:8,virtio-net: PCI function 8 is out of range 0-7'],
    ['256:0:0,virtio-net', '-s 256:0:0,virtio-net: PCI bus 256 is out of range 0-255'],
    ['1:2:3:4,virtio-net', '-s 1:2:3:4,virtio-net: invalid PCI slot 1:2:3:4 (expected slot, slot:function or bus:slot:function)'],
    [',hostbridge', '-s ,hostbridge: invalid PCI slot "" (expected slot, slot:function or bus:slot:function)'],
    ['1x,hostbridge', '-s 1x,hostbridge: invalid PCI slot 1x (expected slot, slot:function or bus:slot:function)'],
    ['-1,hostbridge', '-s -1,hostbridge: invalid PCI slot -1 (expected slot, slot:function or bus:slot:function)'],
    ['1:,hostbridge', '-s 1:,hostbridge: invalid PCI slot 1: (expected slot, slot:function or bus:slot:function)'],
    ['0x1,hostbridge', '-s 0x1,hostbridge: invalid PCI slot 0x1 (expected slot, slot:function or bus:slot:function)'],
    ['3,virtio-gpu', '-s 3,virtio-gpu: unknown PCI device emulation virtio-gpu (see -s help)'],
    ['3,Virtio-net', '-s 3,Virtio-net: unknown PCI device emulation Virtio-net (see -s help)'],
    ['3,passthru,2/0/0', '-s 3,passthru,2/0/0: PCI device emulation passthru is not supported: a simulated machine has no host PCI device to pass through'],
    ['3,ahci-hd,/disk', '-s 3,ahci-hd,/disk: PCI device emulation ahci-hd is not supported: hvsim does not emulate AHCI; use virtio-blk'],
    ['3,ahci-cd,/cd.iso', '-s 3,ahci-cd,/cd.iso: PCI device emulation ahci-cd is not supported: hvsim does not emulate AHCI; use virtio-blk'],
    ['1:0:0,lpc', '-s 1:0:0,lpc: the LPC bridge can only be on bus 0'],
  ];
  it.each(bad)('-s %j', (s, msg) => {
    expect(errorOf(['-s', s, 'vm'])).toBe(msg);
  });

  it('a slot can hold one device and the machine one LPC bridge', () => {
    expect(errorOf('-s 3,virtio-net -s 3:0,virtio-blk vm')).toBe('-s 3:0,virtio-blk: PCI slot 0:3:0 is already occupied by -s 3,virtio-net');
    expect(errorOf('-s 0:3:0,virtio-net -s 3,virtio-blk vm')).toBe('-s 3,virtio-blk: PCI slot 0:3:0 is already occupied by -s 0:3:0,virtio-net');
    expect(parse('-s 0:3:0,virtio-net -s 1:3:0,virtio-blk vm').pciSlots).toHaveLength(2);
    expect(errorOf('-s 1,lpc -s 31,lpc vm')).toBe('-s 31,lpc: only one LPC bridge is allowed (already -s 1,lpc)');
  });
});

describe('-U: UUID', () => {
  it('accepts the RFC 4122 text form in either case and normalises to lower case', () => {
    expect(parse('-U 6BA7B810-9DAD-11D1-80B4-00C04FD430C8 vm').uuid).toBe('6ba7b810-9dad-11d1-80b4-00c04fd430c8');
    expect(parse('-U 00000000-0000-0000-0000-000000000000 vm').uuid).toBe('00000000-0000-0000-0000-000000000000'); // nil (NCS variant)
    expect(parse('-U 12345678-1234-5678-c234-123456789abc vm').uuid).toBe('12345678-1234-5678-c234-123456789abc'); // Microsoft variant
  });

  const shape = 'invalid UUID (expected the RFC 4122 form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)';
  const bad: Array<[string, string]> = [
    ['6ba7b8109dad11d180b400c04fd430c8', shape],
    ['{6ba7b810-9dad-11d1-80b4-00c04fd430c8}', shape],
    ['6ba7b810-9dad-11d1-80b4-00c04fd430c', shape],
    ['6ba7b810-9dad-11d1-80b4-00c04fd430c8a', shape],
    ['6ba7b810-9dad-11d1-80b4_00c04fd430c8', shape],
    ['6ba7b810-9dad-11d1-80b4-00c04fd430cg', shape],
    ['urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8', shape],
    ['', shape],
    ['6ba7b810-9dad-11d1-e0b4-00c04fd430c8', 'invalid UUID: variant bits 111 are reserved (RFC 4122 §4.1.1)'],
  ];
  it.each(bad)('-U %j', (u, what) => {
    expect(errorOf(['-U', u, 'vm'])).toBe(`-U ${u === '' || u.includes(' ') ? JSON.stringify(u) : u}: ${what}`);
  });
});

describe('flags', () => {
  it.each([
    ['-e', { strictIo: true }],
    ['-w', { ignoreUnknownMsrs: true }],
    ['-H', { hltSkipsIdle: true }],
    ['-P', { exitOnPause: true }],
    ['-A', { acpiTables: true }],
    ['-Y', { mptable: false }],
    ['-x', { x2apic: true }],
    ['-a', { x2apic: false }],
    ['--quiet', { quiet: true }],
  ] as Array<[string, Partial<RunConfig>]>)('%s', (flag, want) => {
    const cfg = parseRunArgs([flag, 'vm']);
    expect(cfg).toEqual({ ...defaultRunConfig(), vmname: 'vm', ...want });
  });

  it('a flag given twice is harmless', () => {
    expect(parse('-ee -e vm').strictIo).toBe(true);
  });

  it('--quiet takes no value', () => {
    expect(errorOf('--quiet=1 vm')).toBe('--quiet: this option takes no value');
  });
});

describe('long options', () => {
  it('take their value as the next argument or after "="', () => {
    const a = parse('--kernel k.elf --append console=ttyS0 --initrd rd.img --record t.hvt --seed 42 --max-insns 5M vm');
    const b = parseRunArgs([
      '--kernel=k.elf',
      '--append=console=ttyS0',
      '--initrd=rd.img',
      '--record=t.hvt',
      '--seed=42',
      '--max-insns=5M',
      'vm',
    ]);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ kernel: 'k.elf', append: 'console=ttyS0', initrd: 'rd.img', record: 't.hvt', seed: 42, maxInsns: 5_000_000 });
  });

  it('a missing value is an error', () => {
    for (const [o, what] of [
      ['kernel', 'FILE'],
      ['append', 'CMDLINE'],
      ['initrd', 'FILE'],
      ['module', 'FILE[,STRING]'],
      ['hypervisor', 'NAME[,NAME...]'],
      ['seed', 'N'],
      ['max-insns', 'N'],
      ['record', 'FILE'],
      ['kv', 'KEY=VALUE'],
      ['rtc-time', 'TIME'],
    ]) {
      expect(errorOf([`--${o}`])).toBe(`--${o}: missing ${what}`);
    }
  });

  it('file names must not be empty; --append may be', () => {
    expect(errorOf('--kernel= vm')).toBe('--kernel "": empty file name');
    expect(errorOf('--initrd= vm')).toBe('--initrd "": empty file name');
    expect(errorOf('--record= vm')).toBe('--record "": empty file name');
    expect(parseRunArgs(['--append=', 'vm']).append).toBe('');
    expect(parseRunArgs(['--append', 'root=/dev/vda rw', 'vm']).append).toBe('root=/dev/vda rw');
  });

  it('the last of a single-valued option wins', () => {
    expect(parse('--kernel a --kernel b --seed 1 --seed 2 vm')).toMatchObject({ kernel: 'b', seed: 2 });
  });

  it('--module is repeatable, with an optional string after the first comma', () => {
    expect(parseRunArgs(['--module', 'a.bin', '--module', 'b.bin,arg1 arg2,x=y', '--module', 'c.bin,', 'vm']).modules).toEqual([
      { path: 'a.bin', string: null },
      { path: 'b.bin', string: 'arg1 arg2,x=y' },
      { path: 'c.bin', string: '' },
    ]);
    expect(errorOf('--module ,str vm')).toBe('--module ,str: empty file name');
  });

  it('--hypervisor takes names in order', () => {
    expect(parse('--hypervisor kvm vm').hypervisors).toEqual(['kvm']);
    expect(parse('--hypervisor hyperv,kvm vm').hypervisors).toEqual(['hyperv', 'kvm']);
    expect(parse('--hypervisor xen,vmware,vmm vm').hypervisors).toEqual(['xen', 'vmware', 'vmm']);
    expect(parse('--hypervisor none vm').hypervisors).toEqual([]);
    expect(parse('--hypervisor kvm --hypervisor none vm').hypervisors).toEqual([]);
  });

  it.each([
    ['qemu', '--hypervisor qemu: unknown hypervisor qemu (expected none, kvm, hyperv, vmware, xen, vmm)'],
    ['KVM', '--hypervisor KVM: unknown hypervisor KVM (expected none, kvm, hyperv, vmware, xen, vmm)'],
    ['kvm,,xen', '--hypervisor kvm,,xen: unknown hypervisor "" (expected none, kvm, hyperv, vmware, xen, vmm)'],
    ['', '--hypervisor "": unknown hypervisor "" (expected none, kvm, hyperv, vmware, xen, vmm)'],
    ['kvm,kvm', '--hypervisor kvm,kvm: kvm is listed twice'],
    ['none,kvm', "--hypervisor none,kvm: 'none' cannot be combined with other hypervisors"],
    ['kvm,none', "--hypervisor kvm,none: 'none' cannot be combined with other hypervisors"],
  ])('--hypervisor %j', (v, msg) => {
    expect(errorOf(['--hypervisor', v, 'vm'])).toBe(msg);
  });

  it.each([
    ['0', 0],
    ['42', 42],
    ['007', 7],
    ['0x2a', 42],
    ['0XFF', 255],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
  ])('--seed %s', (v, n) => {
    expect(parseRunArgs(['--seed', v, 'vm']).seed).toBe(n);
  });

  it.each([
    ['-1', 'expected a non-negative integer (decimal or 0x hex)'],
    ['abc', 'expected a non-negative integer (decimal or 0x hex)'],
    ['1.5', 'expected a non-negative integer (decimal or 0x hex)'],
    ['1e3', 'expected a non-negative integer (decimal or 0x hex)'],
    ['', 'expected a non-negative integer (decimal or 0x hex)'],
    ['0x', 'expected a non-negative integer (decimal or 0x hex)'],
    ['9007199254740992', 'seed is above 2^53-1'],
  ])('--seed %j', (v, what) => {
    expect(errorOf(['--seed', v, 'vm'])).toBe(`--seed ${v === '' ? '""' : v}: ${what}`);
  });

  it.each([
    ['1', 1],
    ['1000', 1000],
    ['10k', 10_000],
    ['10K', 10_000],
    ['250M', 250_000_000],
    ['2G', 2_000_000_000],
    ['9007199G', 9_007_199_000_000_000],
  ])('--max-insns %s', (v, n) => {
    expect(parseRunArgs(['--max-insns', v, 'vm']).maxInsns).toBe(n);
  });

  const maxInsnsSyntax = 'expected an integer with an optional k, M or G suffix (x1000, x1000^2, x1000^3)';
  it.each([
    ['1e9', maxInsnsSyntax],
    ['1.5M', maxInsnsSyntax],
    ['-5', maxInsnsSyntax],
    ['5 M', maxInsnsSyntax],
    ['1Ki', maxInsnsSyntax],
    ['1T', maxInsnsSyntax],
    ['0', 'must be at least 1'],
    ['0k', 'must be at least 1'],
    ['9007200G', 'above 2^53-1'],
  ])('--max-insns %j', (v, what) => {
    expect(errorOf(['--max-insns', v, 'vm'])).toBe(`--max-insns ${v.includes(' ') ? JSON.stringify(v) : v}: ${what}`);
  });

  it.each([
    ['5M', 'give tsc=KHZ, pause=NS or both'],
    ['x,pause=1', 'AT: expected an integer with an optional k, M or G suffix'],
    ['1,tsc=999', 'tsc: a frequency in kHz, 1000-100000000'],
    ['1,speed=2', 'unknown setting speed (expected tsc=KHZ or pause=NS)'],
    ['1,pause=-1', 'pause: expected an integer with an optional k, M or G suffix'],
  ])('--migrate %j', (v, what) => {
    expect(errorOf(['--migrate', v, 'vm'])).toBe(`--migrate ${v}: ${what}`);
  });

  it('--kv is repeatable; a repeated key keeps its place and takes the last value', () => {
    const cfg = parseRunArgs(['--kv', 'a=1', '--kv', 'b=x=y', '--kv', 'c=', '--kv=a=3', 'vm']);
    expect(cfg.kv).toEqual([
      { key: 'a', value: '3' },
      { key: 'b', value: 'x=y' },
      { key: 'c', value: '' },
    ]);
    expect(errorOf('--kv novalue vm')).toBe('--kv novalue: expected key=value');
    expect(errorOf('--kv =v vm')).toBe('--kv =v: empty key');
  });
});

describe('--rtc-time', () => {
  it.each([
    ['0', 0],
    ['1700000000', 1_700_000_000],
    ['1970-01-01', 0],
    ['1970-01-01T00:00:00Z', 0],
    ['2000-01-01T00:00:00Z', 946_684_800],
    ['2000-02-29', 951_782_400],
    ['2000-03-01T00:00Z', 951_868_800],
    ['2023-11-14T22:13:20Z', 1_700_000_000],
    ['2024-02-29T12:34:56Z', 1_709_210_096],
    ['2024-02-29t12:34:56z', 1_709_210_096],
    ['2024-02-29T12:34:56+00:00', 1_709_210_096],
    ['2038-01-19T03:14:07Z', 2_147_483_647],
    ['2038-01-19T03:14:08Z', 2_147_483_648],
    ['2100-03-01T00:00:00Z', 4_107_542_400],
    ['9999-12-31T23:59:59Z', 253_402_300_799],
    ['253402300799', 253_402_300_799],
  ])('%s → %i', (v, secs) => {
    expect(parseRtcTime(v)).toBe(secs);
    expect(parseRunArgs([`--rtc-time=${v}`, 'vm']).rtcTime).toBe(secs);
  });

  it('agrees with Date.UTC on a sweep of dates (test-only cross-check)', () => {
    for (let y = 1970; y <= 2400; y += 7) {
      for (let m = 1; m <= 12; m++) {
        const d = ((y + m) % 28) + 1;
        const iso = `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}T13:07:59Z`;
        expect(parseRtcTime(iso)).toBe(Date.UTC(y, m - 1, d, 13, 7, 59) / 1000);
      }
    }
  });

  const syntax = 'expected UNIX seconds or an ISO 8601 UTC time like 2024-02-29T12:00:00Z';
  it.each([
    ['', syntax],
    ['-1', syntax],
    ['1.5', syntax],
    ['yesterday', syntax],
    ['2024-2-29', syntax],
    ['24-02-29', syntax],
    ['2024-02-29 12:00:00Z', syntax],
    ['20240229T120000Z', syntax],
    ['2024-02-29T12', syntax],
    ['253402300800', 'after 9999-12-31T23:59:59Z'],
    ['2024-02-29T12:00:00', 'a time needs a UTC designator (Z or +00:00)'],
    ['2024-02-29T12:00:00.5Z', 'fractional seconds are not supported'],
    ['2024-02-29T12:00:00+01:00', 'only UTC times are accepted (Z or +00:00)'],
    ['2024-02-29T12:00:00-00:00', 'only UTC times are accepted (Z or +00:00)'],
    ['2024-02-29T12:00:00ZZ', 'only UTC times are accepted (Z or +00:00)'],
    ['1969-12-31T23:59:59Z', 'before 1970-01-01T00:00:00Z'],
    ['0001-01-01', 'before 1970-01-01T00:00:00Z'],
    ['2024-13-01', 'invalid month 13'],
    ['2024-00-01', 'invalid month 00'],
    ['2023-02-29', 'invalid day 29 for 2023-02'],
    ['1900-02-29', 'invalid day 29 for 1900-02'],
    ['2024-04-31', 'invalid day 31 for 2024-04'],
    ['2024-04-00', 'invalid day 00 for 2024-04'],
    ['2024-02-29T24:00:00Z', 'invalid hour 24'],
    ['2024-02-29T12:60:00Z', 'invalid minute 60'],
    ['2016-12-31T23:59:60Z', 'invalid second 60 (leap seconds are not representable)'],
  ])('%j is refused', (v, what) => {
    expect(errorOf(['--rtc-time', v, 'vm'])).toBe(`--rtc-time ${/^[\x21-\x7e]+$/.test(v) ? v : JSON.stringify(v)}: ${what}`);
  });
});

describe('everything at once', () => {
  it('a full command line', () => {
    const cfg = parseRunArgs([
      '-c', 'cpus=4,sockets=1,cores=2,threads=2,maxcpus=8',
      '-m', '2G',
      '-l', 'com1,stdio',
      '-l', 'com2,/tmp/com2.out',
      '-s', '0,hostbridge',
      '-s', '31,lpc',
      '-s', '3,virtio-net,tap0',
      '-U', '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
      '-eHwAx',
      '--kernel', 'fixtures/guests/hello/hello.elf',
      '--append', 'console=ttyS0 quiet',
      '--initrd', 'initrd.img',
      '--module', 'mod.bin,boot arg',
      '--hypervisor', 'hyperv,kvm',
      '--seed', '7',
      '--max-insns', '100M',
      '--record', 'run.hvt',
      '--record-images', 'hash',
      '--digest-every', '10M',
      '--migrate', '5M,tsc=2400000,pause=1k',
      '--migrate', '6M,pause=2',
      '--kv', 'guestinfo.a=1',
      '--kv-ro', 'guestinfo.b=2',
      '--rtc-time', '2024-01-01',
      '--sched', 'random',
      '--quantum', '20k',
      '--quiet',
      'demo',
    ]);
    const want: RunConfig = {
      help: null,
      vmname: 'demo',
      vcpus: 4,
      sockets: 1,
      cores: 2,
      threads: 2,
      maxcpus: 8,
      memoryBytes: 2 * GiB,
      serial: [
        { port: 'com1', backend: { kind: 'stdio' } },
        { port: 'com2', backend: { kind: 'path', path: '/tmp/com2.out' } },
      ],
      uuid: '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
      strictIo: true,
      ignoreUnknownMsrs: true,
      hltSkipsIdle: true,
      exitOnPause: false,
      acpiTables: true,
      mptable: true,
      x2apic: true,
      pciSlots: [
        { bus: 0, slot: 0, function: 0, emulation: 'hostbridge', conf: null, arg: '0,hostbridge' },
        { bus: 0, slot: 31, function: 0, emulation: 'lpc', conf: null, arg: '31,lpc' },
        { bus: 0, slot: 3, function: 0, emulation: 'virtio-net', conf: 'tap0', arg: '3,virtio-net,tap0' },
      ],
      kernel: 'fixtures/guests/hello/hello.elf',
      append: 'console=ttyS0 quiet',
      initrd: 'initrd.img',
      modules: [{ path: 'mod.bin', string: 'boot arg' }],
      hypervisors: ['hyperv', 'kvm'],
      seed: 7,
      sched: 'random',
      quantum: 20_000,
      maxInsns: 100_000_000,
      record: 'run.hvt',
      recordImages: 'hash',
      digestEvery: 10_000_000,
      migrations: [
        { atInsn: 5_000_000, tscKHz: 2_400_000, pauseNs: 1000 },
        { atInsn: 6_000_000, pauseNs: 2 },
      ],
      kv: [{ key: 'guestinfo.a', value: '1' }, { key: 'guestinfo.b', value: '2', readOnly: true }],
      rtcTime: 1_704_067_200,
      quiet: true,
    };
    expect(cfg).toEqual(want);
  });

  it('package.json demo line parses', () => {
    expect(parse('--hypervisor kvm --kernel fixtures/guests/hello/hello.elf demo')).toMatchObject({
      vmname: 'demo',
      hypervisors: ['kvm'],
      kernel: 'fixtures/guests/hello/hello.elf',
    });
  });

  it('error messages are single lines even for values with newlines', () => {
    expect(errorOf(['-m', '1\nG', 'vm'])).toBe('-m "1\\nG": invalid memory size');
  });
});

describe('--sched and --quantum', () => {
  it('refuse unknown policies and out-of-range quanta with a line naming the option', () => {
    expect(() => parseRunArgs(['--sched', 'fifo', 'vm'])).toThrow(/^--sched fifo: expected round-robin or random/);
    expect(() => parseRunArgs(['--quantum', '0', 'vm'])).toThrow(/^--quantum 0: /);
    expect(() => parseRunArgs(['--quantum', '3G', 'vm'])).toThrow(/^--quantum 3G: /);
    expect(parseRunArgs(['vm']).sched).toBe('round-robin');
  });
});
